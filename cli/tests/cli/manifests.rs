//! `ptc rewrite -f`, `ptc audit -f` and `ptc prewarm -f`: the real binary on real-shaped
//! manifests (`tests/fixtures/manifests/`), offline (`--rules-file`, `--registry`), against the
//! golden diff and rewritten files in `tests/fixtures/manifests-golden/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{stderr, stdout, Aws};

use ptc_ops_tests::{repo_root, TestEnv};
use serde_json::Value;

const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

/// Runs `ptc` in `workdir` with no AWS in reach: rules and registry come from the arguments.
fn ptc_in(workdir: &Path, args: &[&str], stdin: Option<&str>, path: Option<&str>) -> Output {
    crate::support::run(workdir, args, stdin, Aws::Offline, &[], path)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/manifests")
}

fn golden() -> PathBuf {
    repo_root().join("tests/fixtures/manifests-golden")
}

fn rules() -> String {
    golden().join("rules.json").display().to_string()
}

/// A copy of the fixture tree in a fresh folder.
fn copy_of_fixtures() -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("folder");
    copy_tree(&fixtures(), folder.path());
    folder
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("folder made");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}

/// Every file below `root`, relative, sorted.
fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(folder).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(root).expect("below").to_path_buf());
            }
        }
    }
    found.sort();
    found
}

fn offline<'a>(args: &[&'a str], rules: &'a str) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--rules-file", rules, "--registry", REGISTRY]);
    all
}

#[test]
fn rewrite_diff_is_the_golden_diff_and_changes_nothing() {
    let folder = copy_of_fixtures();
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", ".", "--diff"], &rules),
        None,
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "references are left bypassing the cache: {}",
        stderr(&output)
    );
    let expected = std::fs::read_to_string(golden().join("rewrite.diff")).expect("golden diff");
    assert_eq!(stdout(&output), expected);
    // Why each remaining reference was not rewritten, with file and line.
    let why = stderr(&output);
    for line in [
        "broken.yaml:13: not valid YAML",
        "app/Dockerfile:23: cannot read `FROM`",
        "app/Dockerfile:10: the build stage `build`: left alone",
        "app/Dockerfile:19: ambiguous, left alone: the image depends on the build argument `RUNTIME`, which has no default",
        "app/kustomization.yaml:11: `busybox@sha256:768e5c6f5cb6db0794eec98dc7a967f40631746c32232b78a3105fb946f3ab83` not rewritten: digest-only",
        "quoting-values.yaml:15: `docker.io/library/nginx:1.27` not rewritten: `image` cannot be rewritten in place",
        "broken.yaml:25: `Not A Reference!` not rewritten",
    ] {
        assert!(why.contains(line), "missing {line:?} in:\n{why}");
    }
    assert!(
        !why.contains("should-not-be-read"),
        "hidden folders are skipped"
    );
    for file in files_below(folder.path()) {
        assert_eq!(
            std::fs::read(folder.path().join(&file)).expect("read"),
            std::fs::read(fixtures().join(&file)).expect("read"),
            "--diff changed {}",
            file.display()
        );
    }
}

#[test]
fn rewrite_in_place_writes_the_golden_files_and_never_a_file_it_could_not_read() {
    let folder = copy_of_fixtures();
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", ".", "--in-place"], &rules),
        None,
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.starts_with("FILE:LINE"), "{table}");
    assert!(
        table.contains("did not rewrite broken.yaml: a part of the file could not be read"),
        "{table}"
    );
    assert!(table.contains("rewrote workloads.yaml"), "{table}");
    let check_files = |stage: &str| {
        for file in files_below(folder.path()) {
            let golden_file = golden().join("in-place").join(&file);
            let expected = if golden_file.exists() {
                golden_file
            } else {
                fixtures().join(&file)
            };
            assert_eq!(
                std::fs::read_to_string(folder.path().join(&file)).expect("read"),
                std::fs::read_to_string(&expected).expect("read"),
                "{stage}: {}",
                file.display()
            );
        }
    };
    check_files("first run");
    // No temporary file left behind; the same files as before.
    assert_eq!(files_below(folder.path()), files_below(&fixtures()));
    // A second run finds nothing more to change.
    let again = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", ".", "--in-place"], &rules),
        None,
        None,
    );
    assert!(!stdout(&again).contains("rewrote "), "{}", stdout(&again));
    check_files("second run");
    // stdin cannot be rewritten in place.
    let stdin = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "-", "--in-place"], &rules),
        Some("image: nginx:1.27\n"),
        None,
    );
    assert_eq!(stdin.status.code(), Some(2), "{}", stderr(&stdin));
}

#[test]
fn check_is_a_ci_gate() {
    let folder = tempfile::tempdir().expect("folder");
    let rules = rules();
    let clean = format!(
        "image:\n  registry: {REGISTRY}\n  repository: docker-hub/bitnami/redis\n  tag: 7.4\nkarpenter:\n  image: public.ecr.aws/karpenter/controller:1.0.6\n"
    );
    std::fs::write(folder.path().join("values.yaml"), &clean).expect("written");
    let pass = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "values.yaml", "--check"], &rules),
        None,
        None,
    );
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}{}",
        stdout(&pass),
        stderr(&pass)
    );
    assert!(
        stdout(&pass).contains("all through the cache or exempt"),
        "{}",
        stdout(&pass)
    );

    for (name, addition, expected) in [
        ("direct", "web:\n  image: nginx:1.27\n", "values.yaml:8: direct `nginx:1.27` (web.image): use `"),
        (
            "broken cache path",
            &*format!("web:\n  image: {REGISTRY}/docker-hub/nginx:1.27\n"),
            "values.yaml:8: broken",
        ),
        (
            "digest-only",
            "web:\n  image: ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
            "values.yaml:8: digest-only",
        ),
        ("not YAML", "web: [\n", "not valid YAML"),
    ] {
        std::fs::write(folder.path().join("values.yaml"), format!("{clean}{addition}")).expect("written");
        let fail = ptc_in(
            folder.path(),
            &offline(&["rewrite", "-f", "values.yaml", "--check"], &rules),
            None,
            None,
        );
        assert_eq!(fail.status.code(), Some(1), "{name}: {}", stderr(&fail));
        assert!(stdout(&fail).contains(expected), "{name}: {}", stdout(&fail));
        // --check changes nothing.
        assert_eq!(
            std::fs::read_to_string(folder.path().join("values.yaml")).expect("read"),
            format!("{clean}{addition}"),
            "{name}"
        );
    }
    let report = json(&ptc_in(
        folder.path(),
        &offline(&["--json", "rewrite", "-f", ".", "--check"], &rules),
        None,
        None,
    ));
    assert_eq!(report["mode"], "check");
    assert_eq!(report["bypassing"], 0, "{report:#}");
    assert!(
        report["files"][0]["problems"][0]["line"]
            .as_u64()
            .is_some_and(|line| line >= 7),
        "{report:#}"
    );
}

#[test]
fn digest_only_references_stay_upstream_unless_allowed() {
    let folder = tempfile::tempdir().expect("folder");
    let rules = rules();
    let pinned = "ghcr.io/fluxcd/source-controller@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let kept = ptc_in(
        folder.path(),
        &offline(&["rewrite", pinned], &rules),
        None,
        None,
    );
    assert_eq!(kept.status.code(), Some(1));
    assert!(
        stderr(&kept).contains("is digest-only, left as written"),
        "{}",
        stderr(&kept)
    );
    assert!(
        !stdout(&kept).contains(REGISTRY),
        "no cache URI: {}",
        stdout(&kept)
    );
    let allowed = ptc_in(
        folder.path(),
        &offline(&["rewrite", "--allow-digest", pinned], &rules),
        None,
        None,
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert_eq!(
        stdout(&allowed).trim(),
        format!("{REGISTRY}/ghcr/fluxcd/source-controller@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    // Tag and digest: rewritten as usual, the pin kept.
    let both = ptc_in(
        folder.path(),
        &offline(&["rewrite", "ghcr.io/fluxcd/source-controller:v1.4.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"], &rules),
        None,
        None,
    );
    assert_eq!(
        stdout(&both).trim(),
        format!("{REGISTRY}/ghcr/fluxcd/source-controller:v1.4.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );

    // From a file: the table says why; --allow-digest rewrites it.
    let kustomization = fixtures().join("app/kustomization.yaml");
    let kustomization = kustomization.to_str().expect("utf8");
    let report = json(&ptc_in(
        folder.path(),
        &offline(&["--json", "rewrite", "-f", kustomization], &rules),
        None,
        None,
    ));
    let busybox = &report["references"][2];
    assert_eq!(busybox["source"]["source"], "digest-only", "{report:#}");
    assert_eq!(busybox["action"], "bypass", "{report:#}");
    assert!(busybox["why"]
        .as_str()
        .is_some_and(|why| why.contains("pre-warm by tag")));
    let report = json(&ptc_in(
        folder.path(),
        &offline(
            &["--json", "rewrite", "--allow-digest", "-f", kustomization],
            &rules,
        ),
        None,
        None,
    ));
    assert_eq!(report["references"][2]["action"], "rewrite", "{report:#}");
}

#[test]
fn rewrite_reads_stdin_and_lists() {
    let folder = tempfile::tempdir().expect("folder");
    let rules = rules();
    let workloads = std::fs::read_to_string(fixtures().join("workloads.yaml")).expect("fixture");
    let diff = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "-", "--diff"], &rules),
        Some(&workloads),
        None,
    );
    let text = stdout(&diff);
    assert!(text.starts_with("--- a/-\n+++ b/-\n"), "{text}");
    assert!(
        text.contains(&format!(
            "+          image: {REGISTRY}/docker-hub/library/nginx:1.27 # plain"
        )),
        "{text}"
    );
    let list = ptc_in(
        folder.path(),
        &offline(&["--json", "rewrite", "-f", "-"], &rules),
        Some("# system images\nregistry.k8s.io/pause:3.10\nnginx\n"),
        None,
    );
    let report = json(&list);
    assert_eq!(report["files"][0]["format"], "list");
    assert_eq!(
        report["references"][1]["cache_uri"],
        format!("{REGISTRY}/docker-hub/library/nginx:latest")
    );
    assert_eq!(list.status.code(), Some(0));
}

#[test]
fn audit_reads_files_and_classifies_broken_and_digest_only() {
    let folder = copy_of_fixtures();
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["--json", "audit", "-f", "."], &rules)
            .into_iter()
            .filter(|arg| *arg != "--registry" && *arg != REGISTRY)
            .chain(["--registry", REGISTRY])
            .collect::<Vec<_>>(),
        None,
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let find = |needle: &str| -> Value {
        report["images"]
            .as_array()
            .and_then(|images| {
                images
                    .iter()
                    .find(|image| {
                        image["image"]
                            .as_str()
                            .is_some_and(|text| text.contains(needle))
                    })
                    .cloned()
            })
            .unwrap_or_else(|| panic!("{needle} not audited: {report:#}"))
    };
    let broken = find("docker-hub/nginx:1.27");
    assert_eq!(broken["source"], "broken");
    assert_eq!(broken["file"], "quoting-values.yaml");
    assert_eq!(broken["line"], 19);
    assert_eq!(
        broken["cache_uri"],
        format!("{REGISTRY}/docker-hub/library/nginx:1.27")
    );
    let digest_only = find("kube-webhook-certgen");
    assert_eq!(digest_only["source"], "digest-only");
    assert_eq!(digest_only["kind"], "helm-values");
    assert_eq!(find("postgres:16")["kind"], "compose");
    assert_eq!(
        find("ghcr.io/shop/migrate:v2")["kind"],
        "kustomize",
        "the kustomization's v2.1 comes first"
    );
    let init = report["images"]
        .as_array()
        .and_then(|images| {
            images
                .iter()
                .find(|image| image["image"] == "ghcr.io/shop/migrate:v2")
        })
        .expect("the init container");
    assert_eq!(init["kind"], "init");
    assert_eq!(init["workload"], "Deployment/web");
    assert_eq!(report["summary"]["broken"], 1);
    assert_eq!(report["summary"]["digest_only"], 2);
    assert_eq!(report["summary"]["problems"], 2, "{report:#}");
}

#[test]
fn audit_asks_kubectl_when_nothing_is_given() {
    let bin = tempfile::tempdir().expect("folder");
    let pods = repo_root().join("tests/fixtures/kubectl-get-pods.json");
    let script = bin.path().join("kubectl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$*\" = \"get pods -A -o json\" ] || exit 9\nexec /bin/cat '{}'\n",
            pods.display()
        ),
    )
    .expect("written");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let rules = rules();
    let bin_path = bin.path().to_str().expect("utf8");
    let output = ptc_in(
        bin.path(),
        &offline(&["--json", "audit"], &rules),
        None,
        Some(bin_path),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        json(&output)["summary"]["images"],
        9,
        "the fixture's nine containers"
    );

    let empty = tempfile::tempdir().expect("folder");
    let missing = ptc_in(
        empty.path(),
        &offline(&["audit"], &rules),
        None,
        Some(empty.path().to_str().expect("utf8")),
    );
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("kubectl"), "{}", stderr(&missing));
}

#[tokio::test]
async fn prewarm_takes_the_same_files_and_pulls_each_reference_once() {
    let env = TestEnv::new().await;
    env.create_rule("docker-hub", "registry-1.docker.io", None)
        .await;
    env.create_rule("k8s", "registry.k8s.io", None).await;
    let folder = tempfile::tempdir().expect("folder");
    std::fs::write(
        folder.path().join("values.yaml"),
        "web:\n  image: nginx:1.27\nworker:\n  image: {repository: nginx, tag: \"1.27\"}\npause:\n  image: registry.k8s.io/pause:3.10\nchart:\n  image: {registry: docker.io, repository: bitnami/redis}\n",
    )
    .expect("written");
    std::fs::write(
        folder.path().join("Dockerfile"),
        "FROM nginx:1.27 AS web\nFROM web\n",
    )
    .expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_ptc"))
        .args(["--json", "prewarm", "--dry-run", "-f", "."])
        .current_dir(folder.path())
        .env_remove("PTC_CONFIG")
        .env("NO_COLOR", "1")
        .envs(env.process_env())
        .stdin(Stdio::null())
        .output()
        .expect("ptc runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let inputs: Vec<&str> = report["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|image| image["input"].as_str())
        .collect();
    assert_eq!(
        inputs,
        ["nginx:1.27", "registry.k8s.io/pause:3.10"],
        "{report:#}"
    );
    assert!(
        stderr(&output)
            .contains("values.yaml:8: `docker.io/bitnami/redis` has no tag in the values"),
        "{}",
        stderr(&output)
    );
}

/// One file written to a fresh folder, `ptc rewrite -f <file> --in-place` run on it: (exit
/// code, the file after).
fn rewrite_in_place(name: &str, text: &str) -> (Option<i32>, String) {
    let folder = tempfile::tempdir().expect("folder");
    let path = folder.path().join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("folder made");
    std::fs::write(&path, text).expect("written");
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", name, "--in-place"], &rules),
        None,
        None,
    );
    let after = std::fs::read_to_string(&path).expect("readable");
    (output.status.code(), after)
}

/// Shapes real charts and manifests use that must not be rewritten wrong: (case, file name,
/// text, what the file must hold after, what it must not).
#[test]
fn in_place_leaves_what_it_cannot_rewrite_right() {
    let cases: [(&str, &str, &str, &str, &str); 5] = [
        (
            "an untagged image string gains no tag (the chart keeps it under `tag`)",
            "values.yaml",
            "master:\n  image: \"jenkins/jenkins\"\n  tag: \"lts\"\n",
            "image: \"111122223333.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/jenkins/jenkins\"\n",
            ":latest",
        ),
        (
            "a registry given as an alias keeps the file unwritten",
            "values.yaml",
            "global:\n  reg: &reg quay.io\nimage:\n  registry: *reg\n  repository: bitnami/redis\n  tag: \"7\"\n",
            "  repository: bitnami/redis\n",
            "docker-hub",
        ),
        (
            "a registry that cannot be replaced byte for byte keeps the repository too",
            "values.yaml",
            "image:\n  registry: \"docker\\x2eio\"\n  repository: bitnami/redis\n  tag: \"7\"\n",
            "  repository: bitnami/redis\n",
            "docker-hub",
        ),
        (
            "broken YAML with `{{` outside a chart's templates is not written",
            "deploy.yaml",
            "kind: Pod\nmetadata:\n  annotations: {description: \"{{ x }}\"}\nspec:\n  containers:\n  - image: nginx:1.27\n   bad: indent\n---\nkind: Pod\nspec:\n  containers:\n  - image: busybox:1.36\n",
            "image: busybox:1.36\n",
            "docker-hub/library/busybox",
        ),
        (
            "an empty `newName` gets no second one",
            "kustomization.yaml",
            "images:\n- name: nginx\n  newName:\n  newTag: \"1.27\"\n",
            "  newName:\n  newTag",
            "newName: 1111",
        ),
    ];
    let mut failures = Vec::new();
    for (case, name, text, holds, lacks) in cases {
        let (_, after) = rewrite_in_place(name, text);
        if !after.contains(holds) || after.contains(lacks) {
            failures.push(format!("{case}:\n{after}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn in_place_never_replaces_a_symbolic_link() {
    let folder = tempfile::tempdir().expect("folder");
    let real = folder.path().join("real.yaml");
    std::fs::write(&real, "image: nginx:1.27\n").expect("written");
    std::os::unix::fs::symlink(&real, folder.path().join("link.yaml")).expect("linked");
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "link.yaml", "--in-place"], &rules),
        None,
        None,
    );
    let link = std::fs::symlink_metadata(folder.path().join("link.yaml")).expect("there");
    assert!(link.file_type().is_symlink(), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(&real).expect("readable"),
        "image: nginx:1.27\n"
    );
    assert!(
        stdout(&output).contains("did not rewrite link.yaml: a symbolic link"),
        "{}",
        stdout(&output)
    );
}

/// Runs `ptc` offline in `workdir`, killed after `seconds`: `None` when it had to be killed.
fn ptc_within(workdir: &Path, args: &[&str], seconds: u64) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ptc"))
        .args(args)
        .current_dir(workdir)
        .env_remove("PTC_CONFIG")
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptc starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("waitable").is_some() {
            return Some(child.wait_with_output().expect("ptc finishes"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("killed");
    let _ = child.wait();
    None
}

fn make_fifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A folder walked by `-f` holds what a shared folder may hold: a link to a file outside it, a
/// FIFO, a file over the size limit. None of them is read, none blocks, each is said; the
/// file beside them is read as usual.
#[test]
fn walking_skips_links_out_of_the_tree_fifos_and_large_files_with_a_note() {
    let folder = tempfile::tempdir().expect("folder");
    let tree = folder.path().join("tree");
    let outside = folder.path().join("outside");
    // A hidden folder is inside the tree but not walked: only the link reads its file.
    std::fs::create_dir_all(tree.join(".store")).expect("tree");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("secret.yaml"), "image: busybox:1.36\n").expect("written");
    std::os::unix::fs::symlink(outside.join("secret.yaml"), tree.join("escape.yaml"))
        .expect("linked");
    // A link inside the tree is read (and, as a link, not rewritten in place).
    std::fs::write(tree.join(".store/real.yaml"), "image: redis:7\n").expect("written");
    std::os::unix::fs::symlink(".store/real.yaml", tree.join("inside.yaml")).expect("linked");
    make_fifo(&tree.join("pipe.yaml"));
    let big = format!("# {}\nimage: postgres:16\n", "x".repeat(2_000));
    std::fs::write(tree.join("big.yaml"), &big).expect("written");
    std::fs::write(tree.join("app.yaml"), "image: nginx:1.27\n").expect("written");
    let rules = rules();
    for mode in ["--check", "--in-place"] {
        let output = ptc_within(
            folder.path(),
            &offline(
                &["rewrite", "-f", "tree", mode, "--max-file-size", "1KB"],
                &rules,
            ),
            60,
        )
        .unwrap_or_else(|| panic!("{mode}: blocked on the FIFO"));
        let printed = format!("{}{}", stdout(&output), stderr(&output));
        for says in [
            "tree/escape.yaml:0: a symbolic link to `".to_owned(),
            "outside the folder given: not read".to_owned(),
            "tree/pipe.yaml:0: a FIFO (named pipe): not read".to_owned(),
            format!(
                "tree/big.yaml:0: {} bytes, over the limit of 1 KB (`--max-file-size`): not read",
                big.len()
            ),
        ] {
            assert!(
                printed.contains(&says),
                "{mode}: missing {says:?} in\n{printed}"
            );
        }
        assert!(
            !printed.contains("busybox"),
            "{mode}: read outside the tree\n{printed}"
        );
        assert!(
            !printed.contains("postgres"),
            "{mode}: read the large file\n{printed}"
        );
        assert!(printed.contains("nginx:1.27"), "{mode}\n{printed}");
        assert!(
            printed.contains("redis:7"),
            "{mode}: the link inside the tree is read\n{printed}"
        );
    }
    // `ptc audit -f` walks the same way and says what it skipped on stderr.
    let audit = ptc_within(
        folder.path(),
        &[
            "audit",
            "-f",
            "tree",
            "--max-file-size",
            "1KB",
            "--registry",
            REGISTRY,
            "--rules-file",
            &rules,
        ],
        60,
    )
    .expect("audit: blocked on the FIFO");
    let said = stderr(&audit);
    assert!(
        said.contains("tree/pipe.yaml: a FIFO (named pipe): not read"),
        "{said}"
    );
    assert!(
        said.contains("outside the folder given: not read"),
        "{said}"
    );
    assert!(!stdout(&audit).contains("busybox"), "{}", stdout(&audit));
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.yaml")).expect("readable"),
        "image: busybox:1.36\n"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join(".store/real.yaml")).expect("readable"),
        "image: redis:7\n",
        "written through the link"
    );
    assert!(
        std::fs::read_to_string(tree.join("app.yaml"))
            .expect("readable")
            .contains(REGISTRY),
        "the plain file is rewritten"
    );
}

/// `-f FIFO` reads what a writer sends (`-f <(helm template …)`) and, with no writer, reads
/// nothing instead of waiting for one.
#[test]
fn a_fifo_named_with_f_never_blocks() {
    let folder = tempfile::tempdir().expect("folder");
    let pipe = folder.path().join("pipe.yaml");
    make_fifo(&pipe);
    let rules = rules();
    let output = ptc_within(
        folder.path(),
        &offline(&["rewrite", "-f", "pipe.yaml", "--check"], &rules),
        60,
    )
    .expect("no writer: blocked on the FIFO");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let writer = {
        let pipe = pipe.clone();
        std::thread::spawn(move || {
            std::fs::write(pipe, "image: nginx:1.27\n").expect("written to the FIFO")
        })
    };
    // The writer may open the FIFO before or after `ptc` does: either way `ptc` reads it.
    let output = ptc_within(
        folder.path(),
        &offline(&["rewrite", "-f", "pipe.yaml", "--check"], &rules),
        60,
    )
    .expect("with a writer: blocked on the FIFO");
    writer.join().expect("writer done");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("direct `nginx:1.27`"),
        "{}",
        stdout(&output)
    );
}

/// A file named with `-f` over `--max-file-size` is a problem (the CI gate fails), not skipped.
#[test]
fn a_named_file_over_the_size_limit_fails_the_check() {
    let folder = tempfile::tempdir().expect("folder");
    let text = format!(
        "# {}\nimage: {REGISTRY}/docker-hub/library/nginx:1.27\n",
        "x".repeat(2_000)
    );
    std::fs::write(folder.path().join("values.yaml"), text).expect("written");
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(
            &[
                "rewrite",
                "-f",
                "values.yaml",
                "--check",
                "--max-file-size",
                "1KiB",
            ],
            &rules,
        ),
        None,
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("values.yaml:0: larger than 1 KiB (`--max-file-size`): not read"),
        "{}",
        stdout(&output)
    );
    let bad = ptc_in(
        folder.path(),
        &offline(
            &[
                "rewrite",
                "-f",
                "values.yaml",
                "--check",
                "--max-file-size",
                "ten",
            ],
            &rules,
        ),
        None,
        None,
    );
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("is not a size such as `10MB`"),
        "{}",
        stderr(&bad)
    );
}

/// Links planted in the folder at the temporary names an attacker can predict (the old
/// `.<name>.ptc-<pid>.tmp`, for the process ids `ptc` is about to get) are never written
/// through: the write goes to a new file created exclusively under a random name.
#[test]
fn in_place_is_not_redirected_by_planted_links() {
    let folder = tempfile::tempdir().expect("folder");
    let shared = folder.path().join("shared");
    std::fs::create_dir_all(&shared).expect("shared");
    let victim = folder.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("written");
    std::fs::write(shared.join("values.yaml"), "image: nginx:1.27\n").expect("written");
    let next_pid = std::process::id().max(Command::new("true").spawn().expect("true runs").id());
    for pid in next_pid..next_pid + 2_000 {
        let name = format!(".values.yaml.ptc-{pid}.tmp");
        std::os::unix::fs::symlink(&victim, shared.join(name)).expect("planted");
    }
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "shared", "--in-place"], &rules),
        None,
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(&victim).expect("readable"),
        "precious\n",
        "the write followed a planted link"
    );
    assert!(std::fs::read_to_string(shared.join("values.yaml"))
        .expect("readable")
        .contains(REGISTRY));
    let planted = std::fs::read_dir(&shared)
        .expect("readable")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.file_type().is_ok_and(|kind| kind.is_symlink()))
        })
        .count();
    assert_eq!(planted, 2_000, "a planted link was replaced or removed");
}

/// A `0640` file stays `0640` after `--in-place`.
#[test]
fn in_place_keeps_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().expect("folder");
    let file = folder.path().join("values.yaml");
    std::fs::write(&file, "image: nginx:1.27\n").expect("written");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("mode set");
    let rules = rules();
    let output = ptc_in(
        folder.path(),
        &offline(&["rewrite", "-f", "values.yaml", "--in-place"], &rules),
        None,
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let metadata = std::fs::metadata(&file).expect("there");
    assert_eq!(metadata.permissions().mode() & 0o7777, 0o640);
    assert!(std::fs::read_to_string(&file)
        .expect("readable")
        .contains(REGISTRY));
}

/// One decision per file, the same in the table, `--diff` and `--in-place`: a file that
/// `--in-place` will not write (a part unreadable, a link) shows no hunk and is never called
/// rewritten; a file it writes gets exactly the diff's change.
#[test]
fn table_diff_and_in_place_agree_on_every_file() {
    let make = || {
        let folder = tempfile::tempdir().expect("folder");
        let root = folder.path();
        std::fs::write(root.join("good.yaml"), "image: nginx:1.27\n").expect("written");
        std::fs::write(
            root.join("broken.yaml"),
            "image: redis:7\n---\nbad: [unclosed\n",
        )
        .expect("written");
        std::fs::write(root.join("target.yaml"), "image: postgres:16\n").expect("written");
        std::os::unix::fs::symlink("target.yaml", root.join("link.yaml")).expect("linked");
        std::fs::write(
            root.join("cached.yaml"),
            format!("image: {REGISTRY}/docker-hub/library/nginx:1.27\n"),
        )
        .expect("written");
        folder
    };
    let rules = rules();
    let run = |mode: Option<&str>| {
        let folder = make();
        let mut args = vec![
            "--json",
            "rewrite",
            "-f",
            "good.yaml",
            "-f",
            "broken.yaml",
            "-f",
            "link.yaml",
            "-f",
            "cached.yaml",
        ];
        args.extend(mode);
        let output = ptc_in(folder.path(), &offline(&args, &rules), None, None);
        (folder, json(&output))
    };
    let changes = |report: &Value| -> Vec<(String, String, String)> {
        report["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|file| {
                (
                    file["file"].as_str().expect("file").to_owned(),
                    file["change"].as_str().expect("change").to_owned(),
                    file["refused_because"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let rewritten_references = |report: &Value| -> Vec<String> {
        report["references"]
            .as_array()
            .expect("references")
            .iter()
            .filter(|reference| reference["action"] == "rewrite")
            .map(|reference| reference["file"].as_str().expect("file").to_owned())
            .collect()
    };
    let (_, table) = run(None);
    let (_, diff) = run(Some("--diff"));
    let (in_place_folder, in_place) = run(Some("--in-place"));
    let expected: Vec<(String, String, String)> = [
        ("good.yaml", "rewritten", ""),
        (
            "broken.yaml",
            "refused",
            "a part of the file could not be read",
        ),
        (
            "link.yaml",
            "refused",
            "a symbolic link (rewrite the file it points to)",
        ),
        ("cached.yaml", "unchanged", ""),
    ]
    .map(|(file, change, why)| (file.to_owned(), change.to_owned(), why.to_owned()))
    .to_vec();
    for (mode, report) in [
        ("table", &table),
        ("--diff", &diff),
        ("--in-place", &in_place),
    ] {
        assert_eq!(changes(report), expected, "{mode}");
        assert_eq!(rewritten_references(report), ["good.yaml"], "{mode}");
    }
    let hunks: Vec<&str> = diff["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|file| file["diff"].is_string())
        .map(|file| file["file"].as_str().expect("file"))
        .collect();
    assert_eq!(
        hunks,
        ["good.yaml"],
        "only the file --in-place writes has hunks"
    );
    let written: Vec<(&str, bool)> = in_place["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| Some((file["file"].as_str()?, file["written"].as_bool()?)))
        .collect();
    assert_eq!(
        written,
        [
            ("good.yaml", true),
            ("broken.yaml", false),
            ("link.yaml", false)
        ]
    );
    let root = in_place_folder.path();
    assert_eq!(
        std::fs::read_to_string(root.join("good.yaml")).expect("readable"),
        format!("image: {REGISTRY}/docker-hub/library/nginx:1.27\n")
    );
    assert_eq!(
        std::fs::read_to_string(root.join("broken.yaml")).expect("readable"),
        "image: redis:7\n---\nbad: [unclosed\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("target.yaml")).expect("readable"),
        "image: postgres:16\n"
    );
}

/// Odd but valid (or hostile) YAML: (case, text, exit code of `--check`, text the output holds).
#[test]
fn check_reads_directives_and_refuses_what_it_cannot_read() {
    let deep = format!("{}x\n", "- ".repeat(10_000));
    let cases: [(&str, String, i32, &str); 3] = [
        (
            "a %YAML directive before the document",
            "%YAML 1.2\n---\nimage: nginx:1.27\n".to_owned(),
            1,
            "direct `nginx:1.27`",
        ),
        (
            "a second document after `...` is a problem, not lost",
            "image: nginx:1.27\n...\nother:\n  image: busybox:1.36\n".to_owned(),
            1,
            "a second document",
        ),
        (
            "nesting 10,000 deep is a problem, not a crash",
            deep,
            1,
            "nested deeper than",
        ),
    ];
    let rules = rules();
    let mut failures = Vec::new();
    for (case, text, code, says) in cases {
        let folder = tempfile::tempdir().expect("folder");
        std::fs::write(folder.path().join("values.yaml"), &text).expect("written");
        let output = ptc_in(
            folder.path(),
            &offline(&["rewrite", "-f", "values.yaml", "--check"], &rules),
            None,
            None,
        );
        let printed = format!("{}{}", stdout(&output), stderr(&output));
        if output.status.code() != Some(code) || !printed.contains(says) {
            failures.push(format!("{case}: {:?}\n{printed}", output.status.code()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// The CI gate's choices on what the files alone do not say: an `ARG` without a default is
/// ambiguous (only `--strict` fails on it) until `--build-arg` gives it; `--allow` lets a
/// reference bypass; the registry host comes from the rules' registry id and `AWS_REGION`.
#[test]
fn check_strict_build_args_allow_and_the_registry_from_the_rules() {
    let folder = tempfile::tempdir().expect("folder");
    std::fs::write(
        folder.path().join("Dockerfile"),
        "ARG RUNTIME\nFROM ${RUNTIME}\nCOPY --from=gcr.io/distroless/static:nonroot /x /x\n",
    )
    .expect("written");
    let rules = rules();
    let check = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec![
            "rewrite",
            "-f",
            "Dockerfile",
            "--check",
            "--rules-file",
            &rules,
        ];
        args.extend_from_slice(extra);
        crate::support::run(folder.path(), &args, None, Aws::Offline, env, None)
    };
    let registry = ["--registry", REGISTRY];
    let allow = ["--allow", "gcr.io/distroless/*"];

    // The distroless image bypasses (no rule for gcr.io): the gate fails…
    let plain = check(&registry, &[]);
    assert_eq!(plain.status.code(), Some(1), "{}", stdout(&plain));
    assert!(
        stdout(&plain)
            .contains("ambiguous, left alone: the image depends on the build argument `RUNTIME`"),
        "{}",
        stdout(&plain)
    );
    // …unless allowed; then only `--strict` fails, on the ambiguous `FROM`.
    let allowed = check(&[&registry[..], &allow[..]].concat(), &[]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stdout(&allowed));
    let strict = check(
        &[&registry[..], &allow[..], &["--strict"][..]].concat(),
        &[],
    );
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    assert!(
        stdout(&strict).contains("1 ambiguous value(s)"),
        "{}",
        stdout(&strict)
    );
    // Given the build argument, the image is known, and it bypasses the cache.
    let given = check(
        &[
            &registry[..],
            &allow[..],
            &["--strict", "--build-arg", "RUNTIME=nginx:1.27"][..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(given.status.code(), Some(1), "{}", stdout(&given));
    assert!(
        stdout(&given).contains("direct `nginx:1.27`")
            && stdout(&given).contains("`RUNTIME` is given with `--build-arg`: change it there"),
        "{}",
        stdout(&given)
    );
    let refused = check(
        &[&registry[..], &["--build-arg", "not a pair"][..]].concat(),
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("expected `NAME=VALUE`"),
        "{}",
        stderr(&refused)
    );

    // Without `--registry`: the rules' registry id and the configured region name the host.
    let audited = crate::support::run(
        folder.path(),
        &[
            "audit",
            "-f",
            "Dockerfile",
            "--rules-file",
            &rules,
            "--build-arg",
            "RUNTIME=nginx:1.27",
            "--json",
        ],
        None,
        Aws::Offline,
        &[("AWS_REGION", "eu-west-1")],
        None,
    );
    assert_eq!(json(&audited)["registry"], REGISTRY, "{}", stderr(&audited));
    let unnamed = crate::support::run(
        folder.path(),
        &["audit", "-f", "Dockerfile", "--rules-file", &rules],
        None,
        Aws::Offline,
        &[],
        None,
    );
    assert_eq!(unnamed.status.code(), Some(2), "{}", stderr(&unnamed));
    assert!(
        stderr(&unnamed).contains("cannot tell the registry host"),
        "{}",
        stderr(&unnamed)
    );
}

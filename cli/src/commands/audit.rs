//! `ptc audit`: which images of a cluster (or of manifests, `-f`) bypass the cache.

use std::collections::BTreeMap;
use std::process::ExitCode;

use ptc_ops::cluster::audit::{audit, read_image_uses, AuditedImage, ImageSource, ImageUse};
use ptc_ops::cluster::manifests::SourceKind;
use serde_json::json;

use super::{clients, load_rules, read_input, CliError, EXIT_CLEAN, EXIT_FINDINGS};
use crate::args::{AuditArgs, GlobalOptions};
use crate::output::{table, Style};

pub async fn run(global: &GlobalOptions, arguments: &AuditArgs) -> Result<ExitCode, CliError> {
    let from_files = !arguments.files.is_empty();
    let (uses, problems) = if from_files {
        let mut uses = Vec::new();
        let mut problems = Vec::new();
        let options = arguments.build.scan_options();
        for (input, scan) in
            super::manifests::scan_paths(&arguments.files, arguments.limits, &options)?
        {
            super::manifests::print_skipped(&input);
            // A registry prefix (`hub`) is no image: `ptc rewrite` points it at the cache.
            uses.extend(
                scan.occurrences
                    .iter()
                    .filter(|occurrence| occurrence.kind != SourceKind::RegistryPrefix)
                    .map(ImageUse::from),
            );
            problems.extend(scan.problems);
        }
        (uses, problems)
    } else {
        let text = match &arguments.input {
            Some(path) => read_input(Some(path))?,
            None if stdin_is_piped() => read_input(None)?,
            None => kubectl_pods()?,
        };
        let uses = read_image_uses(&text).map_err(|error| CliError::Usage(error.to_string()))?;
        (uses, Vec::new())
    };
    let clients = match arguments.rules.rules_file {
        Some(_) => None,
        None => Some(clients().await),
    };
    let rules = load_rules(&arguments.rules, clients.as_ref()).await?;
    let region = clients
        .as_ref()
        .and_then(|clients| clients.region().map(str::to_owned))
        .or_else(super::manifests::configured_region);
    let registry = super::manifests::host_for(arguments.registry.as_deref(), &rules, region)?;
    let audited = audit(uses, &registry, &rules, &arguments.allow);

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for image in &audited {
        *counts.entry(image.source.label()).or_default() += 1;
    }
    let n_allowed = audited.iter().filter(|image| image.allowed).count();
    let failing: Vec<&AuditedImage> = audited
        .iter()
        .filter(|image| !image.allowed && image.source.bypasses_cache())
        .collect();

    if global.json {
        let summary = json!({
            "images": audited.len(),
            "via_cache": counts.get("via cache").copied().unwrap_or(0),
            "exempt": counts.get("exempt").copied().unwrap_or(0),
            "direct": counts.get("direct").copied().unwrap_or(0),
            "direct_allowed": n_allowed,
            "broken": counts.get("broken").copied().unwrap_or(0),
            "digest_only": counts.get("digest-only").copied().unwrap_or(0),
            "invalid": counts.get("invalid").copied().unwrap_or(0),
            "failing": failing.len(),
            "problems": problems.len(),
        });
        let mut document = json!({"registry": registry, "summary": summary, "images": audited});
        if from_files {
            document["problems"] = json!(problems);
        }
        println!("{document}");
    } else {
        let style = Style::for_stdout();
        let rows: Vec<Vec<String>> = audited
            .iter()
            .map(|image| row(image, style, from_files))
            .collect();
        let headers: &[&str] = if from_files {
            &["FILE:LINE", "WHERE", "IMAGE", "SOURCE", "SHOULD USE / NOTE"]
        } else {
            &[
                "NAMESPACE",
                "WORKLOAD",
                "CONTAINER",
                "KIND",
                "IMAGE",
                "SOURCE",
                "SHOULD USE / NOTE",
            ]
        };
        print!("{}", table(headers, &rows));
        for problem in &problems {
            println!(
                "{}:{}: {}",
                problem.file,
                problem.line,
                style.bad(&problem.message)
            );
        }
        println!(
            "\n{} images: {} via cache, {} exempt, {} direct ({} allowed), {} invalid",
            audited.len(),
            counts.get("via cache").copied().unwrap_or(0),
            counts.get("exempt").copied().unwrap_or(0),
            counts.get("direct").copied().unwrap_or(0),
            n_allowed,
            counts.get("invalid").copied().unwrap_or(0),
        );
        let n_broken = counts.get("broken").copied().unwrap_or(0);
        let n_digest_only = counts.get("digest-only").copied().unwrap_or(0);
        if n_broken + n_digest_only > 0 {
            println!("{n_broken} broken cache reference(s), {n_digest_only} digest-only");
        }
        if !failing.is_empty() {
            println!(
                "{}",
                style.bad(&format!("{} image(s) bypass the cache", failing.len()))
            );
        }
    }
    Ok(ExitCode::from(
        if failing.is_empty() && problems.is_empty() {
            EXIT_CLEAN
        } else {
            EXIT_FINDINGS
        },
    ))
}

fn row(image: &AuditedImage, style: Style, from_files: bool) -> Vec<String> {
    let image_use = &image.image_use;
    let (source, note) = match &image.source {
        ImageSource::ViaCache { rule_prefix } => {
            (style.good("via cache"), format!("rule `{rule_prefix}`"))
        }
        ImageSource::Broken {
            cache_uri, reason, ..
        } => (
            allowed_or(image.allowed, "broken", style),
            format!("{cache_uri} ({reason})"),
        ),
        ImageSource::DigestOnly { cache_uri, reason } => (
            allowed_or(image.allowed, "digest-only", style),
            match cache_uri {
                Some(uri) => format!("{reason}; cache URI by digest: {uri}"),
                None => reason.clone(),
            },
        ),
        ImageSource::Exempt { reason } => (style.dim("exempt"), reason.clone()),
        ImageSource::Direct {
            cache_uri,
            no_cache_uri_because,
        } => (
            allowed_or(image.allowed, "direct", style),
            cache_uri
                .clone()
                .or_else(|| no_cache_uri_because.clone())
                .unwrap_or_default(),
        ),
        ImageSource::Invalid { error } => (style.bad("invalid"), error.clone()),
    };
    let kind = serde_json::to_value(image_use.kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    if from_files {
        return vec![
            format!(
                "{}:{}",
                image_use.file.as_deref().unwrap_or("-"),
                image_use.line.unwrap_or_default()
            ),
            image_use.location.clone().unwrap_or_default(),
            image_use.image.clone(),
            source,
            note,
        ];
    }
    vec![
        image_use
            .namespace
            .clone()
            .unwrap_or_else(|| "-".to_owned()),
        image_use.workload.clone().unwrap_or_else(|| "-".to_owned()),
        image_use
            .container
            .clone()
            .unwrap_or_else(|| "-".to_owned()),
        kind,
        image_use.image.clone(),
        source,
        note,
    ]
}

fn allowed_or(allowed: bool, label: &str, style: Style) -> String {
    if allowed {
        style.dim(&format!("{label} (allowed)"))
    } else {
        style.bad(label)
    }
}

/// Whether stdin is a pipe or a file (`kubectl … | ptc audit`), not a terminal or `/dev/null`.
fn stdin_is_piped() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
            return false;
        };
        std::fs::File::from(fd)
            .metadata()
            .map(|metadata| {
                let kind = metadata.file_type();
                kind.is_fifo() || kind.is_file() || kind.is_socket()
            })
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        use std::io::IsTerminal;
        !std::io::stdin().is_terminal()
    }
}

/// The current cluster's pods, from `kubectl get pods -A -o json` (the context kubectl uses).
fn kubectl_pods() -> Result<String, CliError> {
    let output = std::process::Command::new("kubectl")
        .args(["get", "pods", "-A", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| {
            CliError::Usage(format!(
                "no input: give `-f PATH`, a file, or pipe `kubectl get pods -A -o json`; running `kubectl` failed ({error}), is it on the PATH?"
            ))
        })?;
    if !output.status.success() {
        return Err(CliError::Run(format!(
            "`kubectl get pods -A -o json` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("no message")
                .trim()
        )));
    }
    String::from_utf8(output.stdout).map_err(|_| {
        CliError::Run("`kubectl get pods -A -o json` printed no UTF-8 text".to_owned())
    })
}

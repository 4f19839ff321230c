//! A Kyverno `ClusterPolicy` that rewrites Pod image references to the pull-through cache, built
//! from the registry's rules (`ptc rewrite --emit kyverno`). Pure.
//!
//! Regex-only admission webhooks know nothing about the rules: they forget Docker Hub's
//! `library/`, `upstreamRepositoryPrefix`, `ROOT` rules and ECR's longest-prefix routing. This
//! policy is generated from the same rules, with the same decisions as
//! [`crate::domain::cache_mapping::map_to_cache`]:
//!
//! 1. Each image is first brought to one spelling (a context variable per container): Docker
//!    Hub's implicit registry and its aliases (`index.docker.io`, `registry-1.docker.io`) become
//!    `docker.io`, and a one-segment Docker Hub path gets `library/`, as the Docker reference
//!    grammar reads them; a host written with HTTPS's port or a trailing dot
//!    (`ghcr.io.:443/…`) is that host, as [`crate::domain::image_reference::parse_reference`]
//!    reads it, so neither spelling gets past the policy.
//! 2. One `foreach` entry per rule rewrites the references that rule serves: the registry is the
//!    rule's upstream (host compared case-insensitively), the path lies under its
//!    `upstreamRepositoryPrefix`, ECR would not route the cache repository to a rule with a
//!    longer ECR prefix, and no more specific rule for the same upstream takes it. The
//!    conditions are exclusive, so the order of the entries does not matter.
//! 3. References with a digest (`repo@sha256:…`, and `repo:tag@sha256:…`, which runtimes pull
//!    by its digest) are left alone: a first pull by digest does not populate a pull-through
//!    cache, and at admission nothing has pulled the tag first; `ptc rewrite -f` leaves them
//!    alike. [`PolicyOptions::rewrite_digests`] (`--allow-digest`) rewrites them anyway.
//!
//! One difference with the mapping remains: a cache repository longer than ECR's 256
//! characters is refused by the mapping and rewritten by the policy (the pull then fails).
//! Counting characters in RE2 needs `{n,}`, and braces inside `{{ … }}` are read by Kyverno's
//! variable parser in older releases.
//!
//! Kyverno documents `foreach` over `request.object.spec.containers` with a
//! `patchStrategicMerge` keyed by `{{ element.name }}`, per-iteration `context` and
//! `preconditions`, in its mutate rules page: <https://kyverno.io/docs/writing-policies/mutate/#foreach>.
//! `regex_match` and `regex_replace_all` are Kyverno's JMESPath functions
//! (<https://kyverno.io/docs/writing-policies/jmespath/>); their patterns are Go RE2, so the
//! patterns here use no look-around and no backslash (a `.` is written `[.]`), which keeps
//! them intact through YAML and JMESPath quoting. Subresources such as
//! `Pod/ephemeralcontainers` are matched as documented in
//! <https://kyverno.io/docs/writing-policies/match-exclude/>.
//!
//! The [`Policy`] model is public so that tests can evaluate the routes with any RE2-compatible
//! engine and compare them with the mapping the rest of the product uses.

use std::fmt::Write as _;

use crate::domain::cache_mapping::specificity;
use crate::domain::image_reference::{normalise_registry_host, DOCKER_HUB};
use crate::domain::{CacheRule, ROOT_PREFIX};

/// The policy's default name.
pub const DEFAULT_POLICY_NAME: &str = "ecr-pull-through-cache";

/// The context variable holding the normalised reference of the current container.
pub const IMAGE_VARIABLE: &str = "ptcImage";

/// References that name a digest, with or without a tag.
pub const DIGEST_PATTERN: &str = "@";

/// What the generator needs besides the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOptions {
    pub name: String,
    /// `<account>.dkr.ecr.<region>.amazonaws.com`.
    pub registry_host: String,
    /// Rewrite references with a digest too, for clusters whose pinned tags are pre-warmed.
    pub rewrite_digests: bool,
}

/// One `regex_replace_all(pattern, …, replacement)` of the normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub pattern: String,
    pub replacement: String,
}

/// How one pull-through cache rule rewrites a normalised reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub rule_prefix: String,
    pub upstream_registry_url: String,
    pub upstream_repository_prefix: String,
    /// Matches the references the rule can serve: its upstream host, then its upstream prefix.
    pub serves: String,
    /// References `serves` matches whose cache repository ECR routes to another rule (one with
    /// a longer ECR prefix): the rule does not take them.
    pub routed_elsewhere: Vec<String>,
    /// Routes (indices into [`Policy::routes`]) for the same upstream that win when they can
    /// serve the reference: a more specific upstream prefix, then a rule that authenticates,
    /// then the prefix in name order.
    pub yields_to: Vec<usize>,
    /// `regex_replace_all(rewrite.pattern, image, rewrite.replacement)` gives the cache URI.
    pub rewrite: Replacement,
}

/// The policy as data: normalisation steps, then one route per rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub registry_host: String,
    /// Applied in order to the container's `image`.
    pub normalise: Vec<Replacement>,
    pub routes: Vec<Route>,
    pub rewrite_digests: bool,
}

/// Where containers live in a Pod, and the Kyverno rule that rewrites each list.
const CONTAINER_LISTS: [(&str, &str, &str); 3] = [
    ("containers", "rewrite-containers", "Pod"),
    ("initContainers", "rewrite-init-containers", "Pod"),
    (
        "ephemeralContainers",
        "rewrite-ephemeral-containers",
        "Pod/ephemeralcontainers",
    ),
];

impl Policy {
    /// The routes of `rules`, in the order of the rules.
    pub fn from_rules(rules: &[CacheRule], options: &PolicyOptions) -> Policy {
        let routes: Vec<Route> = rules
            .iter()
            .map(|rule| route(rule, rules, &options.registry_host))
            .collect();
        let mut policy = Policy {
            name: options.name.clone(),
            registry_host: options.registry_host.clone(),
            normalise: normalisation(),
            routes,
            rewrite_digests: options.rewrite_digests,
        };
        for index in 0..rules.len() {
            policy.routes[index].yields_to = (0..rules.len())
                .filter(|&other| other != index && wins_over(&rules[other], &rules[index]))
                .collect();
        }
        policy
    }

    /// The normalisation as one JMESPath expression over `element.image`.
    pub fn normalise_expression(&self) -> String {
        self.normalise
            .iter()
            .fold("element.image".to_owned(), |inner, step| {
                format!(
                    "regex_replace_all({}, {inner}, {})",
                    raw(&step.pattern),
                    raw(&step.replacement)
                )
            })
    }

    /// Whether route `index` takes the normalised reference in [`IMAGE_VARIABLE`], as a
    /// JMESPath boolean.
    pub fn condition_expression(&self, index: usize) -> String {
        let route = &self.routes[index];
        let mut terms = Vec::new();
        if !self.rewrite_digests {
            terms.push(format!(
                "!regex_match({}, {IMAGE_VARIABLE})",
                raw(DIGEST_PATTERN)
            ));
        }
        terms.push(usable_expression(route));
        for &other in &route.yields_to {
            terms.push(format!("!({})", usable_expression(&self.routes[other])));
        }
        terms.join(" && ")
    }

    /// The `ClusterPolicy` as YAML, with a header saying what it does and where it came from.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, text: &str| {
            out.push_str(text);
            out.push('\n');
        };
        line(
            &mut out,
            "# Rewrites Pod images to the ECR pull-through cache, per the registry's rules.",
        );
        line(
            &mut out,
            "# Generated by `ptc rewrite --emit kyverno`: generate it again when the rules change.",
        );
        line(
            &mut out,
            "# Kyverno mutate rules with foreach: https://kyverno.io/docs/writing-policies/mutate/#foreach",
        );
        let _ = writeln!(out, "# Cache registry: {}", self.registry_host);
        if self.routes.is_empty() {
            line(
                &mut out,
                "# No pull-through cache rules: the policy rewrites nothing.",
            );
        }
        for route in &self.routes {
            let mut from = normalise_registry_host(&route.upstream_registry_url);
            if route.upstream_repository_prefix != ROOT_PREFIX {
                let _ = write!(from, "/{}", route.upstream_repository_prefix);
            }
            let _ = writeln!(
                out,
                "# Rule `{}`: {from}/… → {}",
                route.rule_prefix, route.rewrite.replacement
            );
        }
        if self.rewrite_digests {
            line(
                &mut out,
                "# References with a digest are rewritten too: pre-warm their tags first (a first",
            );
            line(
                &mut out,
                "# pull by digest does not populate the cache). Left alone: images no rule serves.",
            );
        } else {
            line(
                &mut out,
                "# Left alone: references with a digest (repo@sha256:…, repo:tag@sha256:…; a first",
            );
            line(
                &mut out,
                "# pull by digest does not populate the cache) and images no rule serves.",
            );
        }
        line(&mut out, "apiVersion: kyverno.io/v1");
        line(&mut out, "kind: ClusterPolicy");
        line(&mut out, "metadata:");
        let _ = writeln!(out, "  name: {}", quote(&self.name));
        line(&mut out, "  annotations:");
        line(
            &mut out,
            "    policies.kyverno.io/title: \"Pull images through the ECR pull-through cache\"",
        );
        line(&mut out, "    policies.kyverno.io/subject: Pod");
        let _ = writeln!(
            out,
            "    policies.kyverno.io/description: {}",
            quote(&format!(
                "Rewrites the images of containers, init containers and ephemeral containers that a pull-through cache rule serves to {}, following the rules' prefixes, upstream repository prefixes, ROOT rules and ECR's longest-prefix routing. Docker Hub official images get library/. {}",
                self.registry_host,
                if self.rewrite_digests {
                    "References with a digest are rewritten too."
                } else {
                    "References with a digest are left alone."
                }
            ))
        );
        // Pods only: rewriting Deployments and other controllers would fight GitOps tools.
        line(
            &mut out,
            "    pod-policies.kyverno.io/autogen-controllers: none",
        );
        line(&mut out, "spec:");
        line(&mut out, "  background: false");
        line(&mut out, "  rules:");
        for (list, rule_name, kind) in CONTAINER_LISTS {
            let _ = writeln!(out, "  - name: {rule_name}");
            line(&mut out, "    match:");
            line(&mut out, "      any:");
            line(&mut out, "      - resources:");
            line(&mut out, "          kinds:");
            let _ = writeln!(out, "          - {kind}");
            line(&mut out, "          operations:");
            line(&mut out, "          - CREATE");
            line(&mut out, "          - UPDATE");
            if list != "containers" {
                line(&mut out, "    preconditions:");
                line(&mut out, "      all:");
                let _ = writeln!(
                    out,
                    "      - key: {}",
                    quote(&format!(
                        "{{{{ request.object.spec.{list}[] || `[]` | length(@) }}}}"
                    ))
                );
                line(&mut out, "        operator: GreaterThanOrEquals");
                line(&mut out, "        value: 1");
            }
            line(&mut out, "    mutate:");
            if self.routes.is_empty() {
                line(&mut out, "      foreach: []");
                continue;
            }
            line(&mut out, "      foreach:");
            for (index, route) in self.routes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "      # rule `{}` ({})",
                    route.rule_prefix, route.upstream_registry_url
                );
                let _ = writeln!(
                    out,
                    "      - list: {}",
                    quote(&format!("request.object.spec.{list}"))
                );
                line(&mut out, "        context:");
                let _ = writeln!(out, "        - name: {IMAGE_VARIABLE}");
                line(&mut out, "          variable:");
                let _ = writeln!(
                    out,
                    "            jmesPath: {}",
                    quote(&self.normalise_expression())
                );
                line(&mut out, "        preconditions:");
                line(&mut out, "          all:");
                let _ = writeln!(
                    out,
                    "          - key: {}",
                    quote(&format!("{{{{ {} }}}}", self.condition_expression(index)))
                );
                line(&mut out, "            operator: Equals");
                line(&mut out, "            value: true");
                line(&mut out, "        patchStrategicMerge:");
                line(&mut out, "          spec:");
                let _ = writeln!(out, "            {list}:");
                line(&mut out, "            - name: \"{{ element.name }}\"");
                let _ = writeln!(
                    out,
                    "              image: {}",
                    quote(&format!(
                        "{{{{ regex_replace_all({}, {IMAGE_VARIABLE}, {}) }}}}",
                        raw(&route.rewrite.pattern),
                        raw(&route.rewrite.replacement)
                    ))
                );
            }
        }
        out
    }
}

/// The rule that takes a reference both can serve, as `map_to_cache` orders candidates.
fn wins_over(winner: &CacheRule, other: &CacheRule) -> bool {
    if normalise_registry_host(&winner.upstream_registry_url)
        != normalise_registry_host(&other.upstream_registry_url)
    {
        return false;
    }
    let key = |rule: &CacheRule| {
        (
            std::cmp::Reverse(specificity(rule)),
            std::cmp::Reverse(rule.authenticates()),
            rule.prefix.clone(),
        )
    };
    key(winner) < key(other)
}

/// `serves && !routed_elsewhere…` as JMESPath.
fn usable_expression(route: &Route) -> String {
    let mut terms = vec![format!(
        "regex_match({}, {IMAGE_VARIABLE})",
        raw(&route.serves)
    )];
    for blocked in &route.routed_elsewhere {
        terms.push(format!("!regex_match({}, {IMAGE_VARIABLE})", raw(blocked)));
    }
    terms.join(" && ")
}

/// Docker's reading of a reference, as RE2 replacements on the raw `image` string.
fn normalisation() -> Vec<Replacement> {
    vec![
        // No `/`: an official Docker Hub image (`nginx:1.27`; `localhost:5000` is `localhost`
        // tagged `5000` in the grammar, so it goes here too).
        Replacement {
            pattern: "^([^/]+)$".to_owned(),
            replacement: format!("{DOCKER_HUB}/${{1}}"),
        },
        // A first segment without `.` or `:`, lowercase and not `localhost`, is a Docker Hub
        // namespace (`bitnami/redis`), not a registry host.
        Replacement {
            pattern: format!("^({}/.+)$", namespace_not_host()),
            replacement: format!("{DOCKER_HUB}/${{1}}"),
        },
        // From here the first segment is a host. HTTPS's own port names the same registry.
        Replacement {
            pattern: "^([^/]+):443/".to_owned(),
            replacement: "${1}/".to_owned(),
        },
        // So does a host name written absolute (`ghcr.io.`); a segment with no other dot is
        // left as it is, as the reference grammar reads it.
        Replacement {
            pattern: "^([^/]*[.][^/]*[^/.])[.]/".to_owned(),
            replacement: "${1}/".to_owned(),
        },
        // Docker Hub's aliases, in any case.
        Replacement {
            pattern: "^(?i:index[.]docker[.]io|registry-1[.]docker[.]io|docker[.]io)/".to_owned(),
            replacement: format!("{DOCKER_HUB}/"),
        },
        // Official images live under `library/`.
        Replacement {
            pattern: "^docker[.]io/([^/]+)$".to_owned(),
            replacement: format!("{DOCKER_HUB}/library/${{1}}"),
        },
    ]
}

/// RE2 for a first path segment that the grammar reads as a Docker Hub namespace: no `.`, `:`
/// or uppercase letter, and not `localhost`. RE2 has no look-ahead, so "not `localhost`" is
/// spelled out: a proper prefix of it, a segment that leaves it at some letter, or a longer one.
fn namespace_not_host() -> String {
    const WORD: &str = "localhost";
    const OTHER: &str = "[^./:A-Z";
    let any = format!("{OTHER}]");
    let mut alternatives: Vec<String> = (1..WORD.len()).map(|end| WORD[..end].to_owned()).collect();
    for (position, letter) in WORD.char_indices() {
        alternatives.push(format!("{}{OTHER}{letter}]{any}*", &WORD[..position]));
    }
    alternatives.push(format!("{WORD}{any}+"));
    format!("(?:{})", alternatives.join("|"))
}

/// The route of `rule` among `rules`.
fn route(rule: &CacheRule, rules: &[CacheRule], registry_host: &str) -> Route {
    let host = normalise_registry_host(&rule.upstream_registry_url);
    let upstream_prefix = rule.upstream_repository_prefix.trim_end_matches('/');
    let below = if upstream_prefix == ROOT_PREFIX || upstream_prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", literal(upstream_prefix))
    };
    let head = format!("^(?i:{})/{below}", literal(&host));
    // The start of the cache repository below the rule: `<prefix>/` (nothing for ROOT).
    let own = if rule.is_root() {
        String::new()
    } else {
        format!("{}/", rule.prefix)
    };
    // Other rules whose ECR prefix lies below this rule's repositories take those repositories
    // (ECR routes a repository to the longest matching prefix; ROOT only takes what no other
    // prefix covers). A prefix's namespace is only `<prefix>/…` (`in_namespace`): a repository
    // named exactly like another rule's prefix stays with this rule.
    let routed_elsewhere = rules
        .iter()
        .filter(|other| !other.is_root() && other.prefix != rule.prefix)
        .filter_map(|other| other.prefix.strip_prefix(&own).map(str::to_owned))
        .filter(|rest| !rest.is_empty())
        .map(|rest| format!("{head}{}/", literal(&rest)))
        .collect();
    Route {
        rule_prefix: rule.prefix.clone(),
        upstream_registry_url: rule.upstream_registry_url.clone(),
        upstream_repository_prefix: rule.upstream_repository_prefix.clone(),
        serves: format!("{head}[^/:@]"),
        routed_elsewhere,
        yields_to: Vec::new(),
        rewrite: Replacement {
            pattern: head,
            replacement: format!("{registry_host}/{own}"),
        },
    }
}

/// `text` as an RE2 literal: a `.` becomes `[.]`; host names and repository paths have no
/// other metacharacter (letters, digits, `-`, `_`, `:`, `/`).
fn literal(text: &str) -> String {
    text.replace('.', "[.]")
}

/// A JMESPath raw string literal (`'…'`), `'` escaped.
fn raw(text: &str) -> String {
    format!("'{}'", text.replace('\'', "\\'"))
}

/// A YAML double-quoted scalar.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cache_mapping::map_to_cache;
    use crate::domain::image_reference::parse_reference;
    use crate::test_cases::named_cases;

    fn rule(prefix: &str, url: &str, upstream_prefix: &str, credential: bool) -> CacheRule {
        let rule = CacheRule::new(prefix, url)
            .with_upstream_prefix(upstream_prefix)
            .in_registry("111122223333");
        if credential {
            rule.with_credential(
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ecr-pullthroughcache/x",
            )
        } else {
            rule
        }
    }

    /// Docker Hub, ghcr.io, registry.k8s.io, ECR Public, an ECR-to-ECR rule and a ROOT rule.
    pub(crate) fn golden_rules() -> Vec<CacheRule> {
        vec![
            rule("docker-hub", "registry-1.docker.io", ROOT_PREFIX, true),
            rule("ghcr", "ghcr.io", ROOT_PREFIX, true),
            rule("k8s", "registry.k8s.io", ROOT_PREFIX, false),
            rule("ecr-public", "public.ecr.aws", ROOT_PREFIX, false),
            rule(
                "shared",
                "210987654321.dkr.ecr.us-east-1.amazonaws.com",
                "base",
                false,
            ),
            rule(ROOT_PREFIX, "quay.io", ROOT_PREFIX, false),
        ]
    }

    fn options() -> PolicyOptions {
        PolicyOptions {
            name: DEFAULT_POLICY_NAME.to_owned(),
            registry_host: "111122223333.dkr.ecr.eu-west-1.amazonaws.com".to_owned(),
            rewrite_digests: false,
        }
    }

    #[test]
    fn golden_policy_for_typical_rules() {
        let yaml = Policy::from_rules(&golden_rules(), &options()).to_yaml();
        let golden = include_str!("../../../tests/fixtures/kyverno/cluster-policy.yaml");
        if yaml != golden {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/kyverno-cluster-policy.actual.yaml");
            let _ = std::fs::write(&path, &yaml);
            panic!(
                "the generated policy differs from tests/fixtures/kyverno/cluster-policy.yaml; actual written to {}",
                path.display()
            );
        }
    }

    /// A route the policy is expected to hold, and the rules it is made from.
    struct RouteCase {
        rules: Vec<CacheRule>,
        rule: &'static str,
        serves: &'static str,
        routed_elsewhere: Vec<&'static str>,
        yields_to: Vec<&'static str>,
        rewrite: (&'static str, &'static str),
    }

    /// The policy made from `case.rules` holds a route for `case.rule` as the case describes it.
    fn check_route(name: &str, case: RouteCase) {
        let host = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";
        let policy = Policy::from_rules(&case.rules, &options());
        let route = policy
            .routes
            .iter()
            .find(|route| route.rule_prefix == case.rule)
            .unwrap_or_else(|| panic!("{name}: no route"));
        assert_eq!(route.serves, case.serves, "{name}");
        assert_eq!(route.routed_elsewhere, case.routed_elsewhere, "{name}");
        let yields: Vec<&str> = route
            .yields_to
            .iter()
            .map(|&index| policy.routes[index].rule_prefix.as_str())
            .collect();
        assert_eq!(yields, case.yields_to, "{name}");
        assert_eq!(route.rewrite.pattern, case.rewrite.0, "{name}");
        assert_eq!(
            route.rewrite.replacement,
            format!("{host}/{}", case.rewrite.1),
            "{name}"
        );
    }

    named_cases! {
        /// Routes follow specificity and ECR's routing.
        mod routes_follow_specificity_and_ecr_routing => check_route;
        /// `library/` is added by normalisation, not by the rewrite.
        docker_hub_rule_serves_the_normalised_host(RouteCase {
            rules: vec![rule(
                "docker-hub",
                "registry-1.docker.io",
                ROOT_PREFIX,
                true,
            )],
            rule: "docker-hub",
            serves: "^(?i:docker[.]io)/[^/:@]",
            routed_elsewhere: vec![],
            yields_to: vec![],
            rewrite: ("^(?i:docker[.]io)/", "docker-hub/"),
        }),
        upstream_repository_prefix(RouteCase {
            rules: vec![
                rule("ghcr", "ghcr.io", ROOT_PREFIX, true),
                rule("flux", "ghcr.io", "fluxcd", true),
            ],
            rule: "flux",
            serves: "^(?i:ghcr[.]io)/fluxcd/[^/:@]",
            routed_elsewhere: vec![],
            yields_to: vec![],
            rewrite: ("^(?i:ghcr[.]io)/fluxcd/", "flux/"),
        }),
        a_broader_rule_yields_to_the_more_specific_upstream_prefix(RouteCase {
            rules: vec![
                rule("ghcr", "ghcr.io", ROOT_PREFIX, true),
                rule("flux", "ghcr.io", "fluxcd", true),
            ],
            rule: "ghcr",
            serves: "^(?i:ghcr[.]io)/[^/:@]",
            routed_elsewhere: vec![],
            yields_to: vec!["flux"],
            rewrite: ("^(?i:ghcr[.]io)/", "ghcr/"),
        }),
        a_longer_ecr_prefix_takes_the_repositories_below_it(RouteCase {
            rules: vec![
                rule("docker-hub", "registry-1.docker.io", ROOT_PREFIX, true),
                rule(
                    "docker-hub/team",
                    "registry-1.docker.io",
                    ROOT_PREFIX,
                    false,
                ),
            ],
            rule: "docker-hub",
            serves: "^(?i:docker[.]io)/[^/:@]",
            routed_elsewhere: vec!["^(?i:docker[.]io)/team/"],
            yields_to: vec![],
            rewrite: ("^(?i:docker[.]io)/", "docker-hub/"),
        }),
        root_takes_only_what_no_other_prefix_covers(RouteCase {
            rules: vec![
                rule(ROOT_PREFIX, "quay.io", ROOT_PREFIX, false),
                rule("k8s", "registry.k8s.io", ROOT_PREFIX, false),
            ],
            rule: ROOT_PREFIX,
            serves: "^(?i:quay[.]io)/[^/:@]",
            routed_elsewhere: vec!["^(?i:quay[.]io)/k8s/"],
            yields_to: vec![],
            rewrite: ("^(?i:quay[.]io)/", ""),
        }),
        ecr_to_ecr_with_an_upstream_prefix(RouteCase {
            rules: vec![rule(
                "shared",
                "210987654321.dkr.ecr.us-east-1.amazonaws.com",
                "base",
                false,
            )],
            rule: "shared",
            serves: "^(?i:210987654321[.]dkr[.]ecr[.]us-east-1[.]amazonaws[.]com)/base/[^/:@]",
            routed_elsewhere: vec![],
            yields_to: vec![],
            rewrite: (
                "^(?i:210987654321[.]dkr[.]ecr[.]us-east-1[.]amazonaws[.]com)/base/",
                "shared/",
            ),
        }),
        of_two_root_upstream_rules_the_authenticated_one_wins(RouteCase {
            rules: vec![
                rule("hub-anonymous", "docker.io", ROOT_PREFIX, false),
                rule("hub", "registry-1.docker.io", ROOT_PREFIX, true),
            ],
            rule: "hub-anonymous",
            serves: "^(?i:docker[.]io)/[^/:@]",
            routed_elsewhere: vec![],
            yields_to: vec!["hub"],
            rewrite: ("^(?i:docker[.]io)/", "hub-anonymous/"),
        }),
    }

    const HOST: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";
    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern)
            .unwrap_or_else(|error| panic!("{pattern}: {error}"))
            .is_match(text)
    }

    fn replace(pattern: &str, text: &str, replacement: &str) -> String {
        regex::Regex::new(pattern)
            .unwrap_or_else(|error| panic!("{pattern}: {error}"))
            .replace_all(text, replacement)
            .into_owned()
    }

    /// What the policy makes of `image`, evaluated on its model with an RE2-compatible engine
    /// (the integration test evaluates the generated YAML's own expressions).
    fn admit(policy: &Policy, image: &str) -> String {
        let normalised = policy
            .normalise
            .iter()
            .fold(image.to_owned(), |text, step| {
                replace(&step.pattern, &text, &step.replacement)
            });
        let usable = |route: &Route| {
            matches(&route.serves, &normalised)
                && !route
                    .routed_elsewhere
                    .iter()
                    .any(|pattern| matches(pattern, &normalised))
        };
        if !policy.rewrite_digests && matches(DIGEST_PATTERN, &normalised) {
            return image.to_owned();
        }
        let taken: Vec<&Route> = policy
            .routes
            .iter()
            .filter(|route| {
                usable(route)
                    && !route
                        .yields_to
                        .iter()
                        .any(|&other| usable(&policy.routes[other]))
            })
            .collect();
        assert!(
            taken.len() <= 1,
            "more than one route takes {image}: {taken:?}"
        );
        match taken.first() {
            Some(route) => replace(
                &route.rewrite.pattern,
                &normalised,
                &route.rewrite.replacement,
            ),
            None => image.to_owned(),
        }
    }

    /// What the product's one mapping makes of `image` at admission: references with a digest
    /// stay upstream unless `rewrite_digests`.
    fn product(rules: &[CacheRule], image: &str, rewrite_digests: bool) -> String {
        let Ok(reference) = parse_reference(image) else {
            return image.to_owned();
        };
        if reference.digest.is_some() && !rewrite_digests {
            return image.to_owned();
        }
        map_to_cache(&reference, rules).map_or_else(|_| image.to_owned(), |target| target.uri(HOST))
    }

    /// The policy made from `rules` admits `image` as `expected` (`HOST/…`, or `None`: left as
    /// written), and so does the product's mapping.
    fn check_admission(name: &str, rules: Vec<CacheRule>, image: &str, expected: Option<&str>) {
        check_admission_with(name, rules, image, expected, false);
    }

    fn check_admission_with(
        name: &str,
        rules: Vec<CacheRule>,
        image: &str,
        expected: Option<&str>,
        rewrite_digests: bool,
    ) {
        let policy = Policy::from_rules(
            &rules,
            &PolicyOptions {
                rewrite_digests,
                ..options()
            },
        );
        let expected = expected.map_or_else(
            || image.to_owned(),
            |target| format!("{HOST}/{}", target.replace("DIGEST", DIGEST)),
        );
        assert_eq!(admit(&policy, image), expected, "{name}: the policy");
        assert_eq!(
            product(&rules, image, rewrite_digests),
            expected,
            "{name}: the mapping"
        );
    }

    fn pinned(image: &str) -> String {
        format!("{image}@{DIGEST}")
    }

    named_cases! {
        /// Hosts with HTTPS's port or a trailing dot, digest pins, and the rule order of the
        /// domain's mapping: the policy and the mapping agree on each.
        mod the_policy_admits_images_as_the_mapping_maps_them => check_admission;
        docker_hub_with_https_port(
            golden_rules(),
            "registry-1.docker.io:443/library/nginx:1.27",
            Some("docker-hub/library/nginx:1.27"),
        ),
        docker_hub_official_image_with_https_port_gets_library(
            golden_rules(),
            "registry-1.docker.io:443/nginx:1.27",
            Some("docker-hub/library/nginx:1.27"),
        ),
        ghcr_with_https_port(
            golden_rules(),
            "ghcr.io:443/fluxcd/source-controller:v1.4.1",
            Some("ghcr/fluxcd/source-controller:v1.4.1"),
        ),
        ghcr_with_a_trailing_dot(golden_rules(), "ghcr.io./org/app:1", Some("ghcr/org/app:1")),
        trailing_dot_https_port_and_capitals(
            golden_rules(),
            "GHCR.IO.:443/org/app:1",
            Some("ghcr/org/app:1"),
        ),
        docker_hub_alias_with_a_trailing_dot(
            golden_rules(),
            "index.docker.io./bitnami/redis:7",
            Some("docker-hub/bitnami/redis:7"),
        ),
        another_port_is_another_registry(golden_rules(), "ghcr.io:8443/org/app:1", None),
        a_namespace_with_a_trailing_dot_is_no_host(golden_rules(), "bitnami./redis:7", None),
        tag_and_digest_pin_stays_upstream(
            golden_rules(),
            &pinned("ghcr.io/fluxcd/source-controller:v1.4.1"),
            None,
        ),
        docker_hub_pin_stays_upstream(golden_rules(), &pinned("nginx:1.27"), None),
        pin_with_https_port_stays_upstream(golden_rules(), &pinned("ghcr.io:443/org/app:1"), None),
        digest_only_stays_upstream(golden_rules(), &pinned("ghcr.io/org/app"), None),
        /// `k8s` is not in the namespace of the rule `k8s` (only `k8s/…` is): ROOT takes it.
        root_takes_a_repository_named_like_another_prefix(
            golden_rules(),
            "quay.io/k8s:1",
            Some("k8s:1"),
        ),
        root_leaves_what_a_prefix_covers(golden_rules(), "quay.io/k8s/thing:1", None),
        an_empty_upstream_prefix_is_root(
            vec![rule("hub", "registry-1.docker.io", "", true)],
            "nginx:1.27",
            Some("hub/library/nginx:1.27"),
        ),
        /// `fluxcd/` is as specific as `fluxcd`: the rule that authenticates wins.
        a_trailing_slash_adds_no_specificity(
            vec![
                rule("flux-a", "ghcr.io", "fluxcd/", false),
                rule("flux-b", "ghcr.io", "fluxcd", true),
            ],
            "ghcr.io/fluxcd/helm-controller:v1",
            Some("flux-b/helm-controller:v1"),
        ),
    }

    fn check_admission_of_digests(name: &str, image: &str, expected: &str) {
        check_admission_with(name, golden_rules(), image, Some(expected), true);
    }

    named_cases! {
        /// `--allow-digest` rewrites references with a digest too, the digest kept.
        mod allow_digest_rewrites_pins => check_admission_of_digests;
        tag_and_digest(
            &pinned("ghcr.io/fluxcd/source-controller:v1.4.1"),
            "ghcr/fluxcd/source-controller:v1.4.1@DIGEST",
        ),
        digest_only(&pinned("nginx"), "docker-hub/library/nginx@DIGEST"),
    }

    #[test]
    fn the_localhost_exclusion_spells_out_every_other_segment() {
        let pattern = namespace_not_host();
        assert!(pattern.starts_with("(?:l|lo|loc|"), "{pattern}");
        assert!(pattern.contains("|localhost[^./:A-Z]+"), "{pattern}");
        assert!(!pattern.contains('\\'), "no backslash: {pattern}");
        // One alternative per proper prefix (8), per letter left (9), and the longer segment.
        assert_eq!(pattern.matches('|').count() + 1, 18, "{pattern}");
    }

    #[test]
    fn no_rules_rewrite_nothing() {
        let yaml = Policy::from_rules(&[], &options()).to_yaml();
        assert!(yaml.contains("# No pull-through cache rules"), "{yaml}");
        assert_eq!(yaml.matches("foreach: []").count(), 3, "{yaml}");
    }
}

//! `ptc rewrite IMAGE…`: the cache URI of each upstream reference (`-f PATH…`: see
//! [`super::manifests`]).

use std::process::ExitCode;

use ptc_ops::cluster::audit::DIGEST_ONLY_REASON;
use ptc_ops::domain::cache_mapping::cache_uri_for;
use ptc_ops::domain::image_reference::parse_reference;
use serde_json::json;

use super::{clients, load_rules, CliError, EXIT_CLEAN, EXIT_FINDINGS};
use crate::args::{Emit, GlobalOptions, RewriteArgs};
use crate::output::{table, Style};

pub async fn run(global: &GlobalOptions, arguments: &RewriteArgs) -> Result<ExitCode, CliError> {
    if arguments.emit == Some(Emit::Kyverno) {
        return super::kyverno::run(global, arguments).await;
    }
    if !arguments.files.is_empty() {
        return super::manifests::rewrite(global, arguments).await;
    }
    let clients = match arguments.rules.rules_file {
        Some(_) => None,
        None => Some(clients().await),
    };
    let rules = load_rules(&arguments.rules, clients.as_ref()).await?;
    let region = clients
        .as_ref()
        .and_then(|clients| clients.region().map(str::to_owned));
    let host = super::manifests::host_for(arguments.registry.as_deref(), &rules, region)?;
    let results: Vec<(String, Result<String, String>)> = arguments
        .images
        .iter()
        .map(|image| {
            let uri = parse_reference(image)
                .map_err(|error| error.to_string())
                .and_then(|reference| {
                    if reference.is_digest_only() && !arguments.allow_digest {
                        return Err(format!(
                            "`{image}` is digest-only, left as written: {DIGEST_ONLY_REASON} (`--allow-digest` rewrites it anyway)"
                        ));
                    }
                    cache_uri_for(&reference, &rules, &host)
                        .map_err(|unmapped| unmapped.to_string())
                });
            (image.clone(), uri)
        })
        .collect();
    let n_failed = results.iter().filter(|(_, uri)| uri.is_err()).count();
    if global.json {
        let images: Vec<_> = results
            .iter()
            .map(|(image, uri)| match uri {
                Ok(uri) => json!({"image": image, "cache_uri": uri}),
                Err(problem) => json!({"image": image, "cache_uri": null, "problem": problem}),
            })
            .collect();
        println!("{}", json!({"registry": host, "images": images}));
    } else if results.len() == 1 && n_failed == 0 {
        // One image: just the URI, for `$(ptc rewrite nginx:1.27)`.
        if let Some((_, Ok(uri))) = results.first() {
            println!("{uri}");
        }
    } else {
        let style = Style::for_stdout();
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|(image, uri)| match uri {
                Ok(uri) => vec![image.clone(), uri.clone()],
                Err(problem) => vec![image.clone(), style.bad(problem)],
            })
            .collect();
        print!("{}", table(&["IMAGE", "CACHE URI"], &rows));
    }
    if n_failed > 0 && !global.json && results.len() == 1 {
        if let Some((_, Err(problem))) = results.first() {
            eprintln!("{problem}");
        }
    }
    Ok(ExitCode::from(if n_failed > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }))
}

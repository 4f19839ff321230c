//! Benchmark: pre-warm throughput against its budget: N images at
//! concurrency c finish within 1.3 × (N / c × per-image upstream latency).
//!
//! `cargo bench -p ptc-ops-tests --bench prewarm` starts the emulator, tags one upstream image
//! 200 times in the anonymous upstream registry (registry HTTP API: the same manifest put under
//! `bench-000` … `bench-199`, so every tag is a distinct image to pull through), and spreads the
//! 200 references over four upstream hosts (registry.k8s.io, quay.io, public.ecr.aws, cgr.dev),
//! each behind its own rule. The emulator waits `upstream_latency_ms` = 100 before every
//! upstream fetch. Each concurrency runs in a fresh account, so every image is a first pull.
//! Prints a table; exits non-zero when a run is over budget.
//!
//! Then the staleness pass: the same list again, every tag now cached, so each image costs one
//! `DescribeImages` and a manifest `HEAD` of the (open) loopback upstream: its wall time, the
//! time per image and the `DescribeImages` calls per image.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_ecr::types::ImageIdentifier;
use futures::StreamExt;
use ptc_ops::domain::ACCEPTED_MANIFEST_MEDIA_TYPES;
use ptc_ops::prewarm_images::{self, Request};
use ptc_ops::run::RunContext;
use ptc_ops_tests::TestEnv;
use serde_json::json;

const N_IMAGES: usize = 200;
const UPSTREAM_LATENCY: Duration = Duration::from_millis(100);
const BUDGET: f64 = 1.3;
const CONCURRENCIES: [usize; 2] = [1, 8];
/// Seeded in the anonymous upstream (tests/emulator/ptc_emulator/images.py).
const SOURCE_PATH: &str = "coredns/coredns";
const SOURCE_TAG: &str = "v1.11.3";
/// Upstream host → rule prefix; all map to the anonymous loopback registry.
const UPSTREAMS: [(&str, &str); 4] = [
    ("registry.k8s.io", "k8s"),
    ("quay.io", "quay"),
    ("public.ecr.aws", "ecr-public"),
    ("cgr.dev", "chainguard"),
];
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

struct Row {
    concurrency: usize,
    wall: Duration,
    ideal: Duration,
    warmed: u64,
    /// The second pass: wall time, images found current, `DescribeImages` calls.
    check_wall: Duration,
    current: usize,
    describe_calls: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let first = TestEnv::new().await;
    let tags = match tag_upstream_image(first.emulator.upstream("anonymous")).await {
        Ok(tags) => tags,
        Err(problem) => {
            eprintln!("cannot prepare the upstream images: {problem}");
            return ExitCode::FAILURE;
        }
    };
    let images: Vec<String> = tags
        .iter()
        .enumerate()
        .map(|(index, tag)| {
            let (host, _) = UPSTREAMS[index % UPSTREAMS.len()];
            format!("{host}/{SOURCE_PATH}:{tag}")
        })
        .collect();

    let mut rows = Vec::new();
    let mut env = Some(first);
    for concurrency in CONCURRENCIES {
        let env = match env.take() {
            Some(env) => env,
            None => TestEnv::new().await,
        };
        rows.push(run_once(&env, concurrency, &images).await);
    }
    let mut floors = Vec::new();
    for concurrency in CONCURRENCIES {
        floors.push((concurrency, raw_floor(concurrency, &images).await));
    }

    println!();
    println!(
        "pre-warm: {N_IMAGES} images over {} upstreams, {} ms upstream latency per image",
        UPSTREAMS.len(),
        UPSTREAM_LATENCY.as_millis()
    );
    println!(
        "| concurrency | warmed | wall (s) | ideal N/c×latency (s) | ratio | budget | verdict |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|");
    let mut all_within = true;
    for row in &rows {
        let ratio = row.wall.as_secs_f64() / row.ideal.as_secs_f64();
        let within = ratio <= BUDGET && row.warmed == N_IMAGES as u64;
        all_within &= within;
        println!(
            "| {} | {} | {:.2} | {:.2} | {ratio:.2}× | {BUDGET}× | {} |",
            row.concurrency,
            row.warmed,
            row.wall.as_secs_f64(),
            row.ideal.as_secs_f64(),
            if within { "within" } else { "OVER" }
        );
    }
    println!();
    println!("staleness pass: every tag cached, one DescribeImages and one manifest HEAD each");
    println!(
        "| concurrency | images current | wall (s) | ms per image | DescribeImages per image |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for row in &rows {
        all_within &= row.current == N_IMAGES;
        println!(
            "| {} | {} | {:.2} | {:.1} | {:.2} |",
            row.concurrency,
            row.current,
            row.check_wall.as_secs_f64(),
            row.check_wall.as_secs_f64() * 1000.0 / N_IMAGES as f64,
            row.describe_calls as f64 / N_IMAGES as f64
        );
    }
    println!();
    println!("emulator floor: the same first pulls as bare SDK calls, no product code");
    println!("| concurrency | BatchGetImage only (s) | DescribeImages + BatchGetImage (s) |");
    println!("|---:|---:|---:|");
    for (concurrency, (pull_only, with_lookup)) in &floors {
        println!(
            "| {concurrency} | {:.2} | {:.2} |",
            pull_only.as_secs_f64(),
            with_lookup.as_secs_f64()
        );
    }
    if all_within {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run_once(env: &TestEnv, concurrency: usize, images: &[String]) -> Row {
    for (host, prefix) in UPSTREAMS {
        env.create_rule(prefix, host, None).await;
    }
    env.set_emulator(json!({"upstream_latency_ms": UPSTREAM_LATENCY.as_millis() as u64}))
        .await;
    let config = env.config(&format!("[prewarm]\nconcurrency = {concurrency}\n"));
    let started = Instant::now();
    let report = prewarm_images::run(
        &RunContext::new(&env.clients.ports(), &config),
        Request {
            images: Some(images.to_vec()),
            dry_run: false,
            refresh: None,
            force_refresh: false,
        },
    )
    .await
    .unwrap_or_else(|error| panic!("pre-warm failed: {}", error.full_message()))
    .report;
    let wall = started.elapsed();
    let warmed = report.summary.get("images_warmed").copied().unwrap_or(0);
    if warmed != images.len() as u64 {
        eprintln!(
            "concurrency {concurrency}: only {warmed} of {} images warmed: {:?}",
            images.len(),
            report.summary
        );
    }
    // The staleness pass: every tag cached, each compared with its upstream.
    env.clear_calls().await;
    let started = Instant::now();
    let checked = prewarm_images::run(
        &RunContext::new(&env.clients.ports(), &config),
        Request {
            images: Some(images.to_vec()),
            dry_run: false,
            refresh: None,
            force_refresh: false,
        },
    )
    .await
    .unwrap_or_else(|error| panic!("staleness pass failed: {}", error.full_message()))
    .report;
    let check_wall = started.elapsed();
    let current = checked
        .details
        .images
        .iter()
        .filter(|image| image.upstream_digest.is_some() && image.upstream_digest == image.digest)
        .count();
    let describe_calls = env
        .calls()
        .await
        .iter()
        .filter(|call| call.operation == "DescribeImages")
        .count();
    Row {
        concurrency,
        wall,
        ideal: UPSTREAM_LATENCY.mul_f64(images.len() as f64 / concurrency as f64),
        warmed,
        check_wall,
        current,
        describe_calls,
    }
}

/// Wall time of the same first pulls made as bare SDK calls at `concurrency` (fresh accounts):
/// `BatchGetImage` alone, then preceded by `DescribeImages` as the pre-warmer does. What the
/// emulator itself needs, to tell its cost from the product's.
async fn raw_floor(concurrency: usize, images: &[String]) -> (Duration, Duration) {
    let mut times = Vec::new();
    for with_lookup in [false, true] {
        let env = TestEnv::new().await;
        for (host, prefix) in UPSTREAMS {
            env.create_rule(prefix, host, None).await;
        }
        env.set_emulator(json!({"upstream_latency_ms": UPSTREAM_LATENCY.as_millis() as u64}))
            .await;
        let targets: Vec<(String, String)> = images
            .iter()
            .enumerate()
            .map(|(index, image)| {
                let (_, prefix) = UPSTREAMS[index % UPSTREAMS.len()];
                let tag = image.rsplit(':').next().unwrap_or_default().to_owned();
                (format!("{prefix}/{SOURCE_PATH}"), tag)
            })
            .collect();
        let ecr = env.ecr().clone();
        let started = Instant::now();
        futures::stream::iter(targets)
            .map(|(repository, tag)| {
                let ecr = ecr.clone();
                async move {
                    if with_lookup {
                        let _ = ecr
                            .describe_images()
                            .repository_name(&repository)
                            .image_ids(ImageIdentifier::builder().image_tag(&tag).build())
                            .send()
                            .await;
                    }
                    let _ = ecr
                        .batch_get_image()
                        .repository_name(&repository)
                        .image_ids(ImageIdentifier::builder().image_tag(&tag).build())
                        .set_accepted_media_types(Some(
                            ACCEPTED_MANIFEST_MEDIA_TYPES
                                .iter()
                                .map(|media| (*media).to_owned())
                                .collect(),
                        ))
                        .send()
                        .await;
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<()>>()
            .await;
        times.push(started.elapsed());
    }
    (times[0], times[1])
}

/// Puts the seeded manifest of `SOURCE_PATH:SOURCE_TAG` under `N_IMAGES` new tags.
async fn tag_upstream_image(registry: &str) -> Result<Vec<String>, String> {
    let http = reqwest::Client::new();
    let source = format!("http://{registry}/v2/{SOURCE_PATH}/manifests/{SOURCE_TAG}");
    let response = http
        .get(&source)
        .header("Accept", MANIFEST_TYPES)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| format!("GET {source}: {error}"))?;
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/vnd.docker.distribution.manifest.v2+json")
        .to_owned();
    let manifest = response
        .bytes()
        .await
        .map_err(|error| format!("GET {source}: {error}"))?;
    let mut tags = Vec::with_capacity(N_IMAGES);
    for index in 0..N_IMAGES {
        let tag = format!("bench-{index:03}");
        let target = format!("http://{registry}/v2/{SOURCE_PATH}/manifests/{tag}");
        http.put(&target)
            .header("Content-Type", &media_type)
            .body(manifest.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|error| format!("PUT {target}: {error}"))?;
        tags.push(tag);
    }
    Ok(tags)
}

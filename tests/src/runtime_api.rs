//! A Lambda Runtime API server on loopback: the function binaries run exactly as they do in
//! Lambda (`AWS_LAMBDA_RUNTIME_API`, long-polled `invocation/next`, `response` / `error`),
//! so the demo exercises `main.rs`, init and the runtime loop, not just the handler.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::report_schemas::ReportSchemas;

/// How long an invocation may take, as Lambda's timeout would.
pub const DEFAULT_INVOCATION_TIMEOUT: Duration = Duration::from_secs(120);

/// One event handed to the function, and where its answer goes.
struct PendingEvent {
    request_id: String,
    payload: Value,
    deadline_ms: u64,
    answer: oneshot::Sender<Answer>,
}

#[derive(Debug)]
enum Answer {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct ServerState {
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    init_error: Option<Value>,
}

/// What one invocation returned.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// The response on success; the `{"errorType", "errorMessage"}` document on failure.
    pub result: Result<Value, Value>,
    pub duration: Duration,
}

/// A function binary running against this process's Runtime API.
pub struct FunctionProcess {
    pub function_name: String,
    events: mpsc::Sender<PendingEvent>,
    state: Arc<Mutex<ServerState>>,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts the Runtime API on a free loopback port and the binary with the environment Lambda
    /// gives a function (plus `extra_env`: AWS endpoint, credentials, `PTC_CONFIG`…).
    pub async fn start(
        binary: &Path,
        function_name: &str,
        extra_env: &[(String, String)],
    ) -> Result<FunctionProcess, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("cannot open the runtime API port: {error}"))?;
        let address = listener
            .local_addr()
            .map_err(|error| format!("runtime API address: {error}"))?;
        let (events, receiver) = mpsc::channel::<PendingEvent>(16);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let state = Arc::new(Mutex::new(ServerState::default()));
        let server_state = Arc::clone(&state);
        let function_arn =
            format!("arn:aws:lambda:eu-west-1:123456789012:function:{function_name}");
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let receiver = Arc::clone(&receiver);
                let state = Arc::clone(&server_state);
                let function_arn = function_arn.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        route(
                            request,
                            Arc::clone(&receiver),
                            Arc::clone(&state),
                            function_arn.clone(),
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        let mut child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "demo")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .envs(
                extra_env
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|out| Box::new(out) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|err| Box::new(err) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(line);
                }
            });
        }
        Ok(FunctionProcess {
            function_name: function_name.to_owned(),
            events,
            state,
            child,
            output,
        })
    }

    /// Hands one event to the function and waits for its answer.
    pub async fn invoke(
        &mut self,
        payload: Value,
        timeout: Duration,
    ) -> Result<Invocation, String> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let deadline_ms = SystemTime::now()
            .checked_add(timeout)
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
            .map(|since| since.as_millis() as u64)
            .unwrap_or_default();
        let (answer, answered) = oneshot::channel();
        let started = Instant::now();
        self.events
            .send(PendingEvent {
                request_id: request_id.clone(),
                payload,
                deadline_ms,
                answer,
            })
            .await
            .map_err(|_| "the runtime API stopped".to_owned())?;
        let waited = tokio::time::timeout(timeout + Duration::from_secs(5), answered).await;
        match waited {
            // A response is a report: it must match its function's published schema.
            Ok(Ok(Answer::Response(value))) => match ReportSchemas::published().check(&value) {
                Ok(()) => Ok(Invocation {
                    request_id,
                    result: Ok(value),
                    duration: started.elapsed(),
                }),
                Err(problem) => Err(format!("{}: {problem}", self.function_name)),
            },
            Ok(Ok(Answer::Error(value))) => Ok(Invocation {
                request_id,
                result: Err(value),
                duration: started.elapsed(),
            }),
            Ok(Err(_)) | Err(_) => {
                let init_error = self
                    .state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .init_error
                    .clone();
                let exited = self.child.try_wait().ok().flatten();
                Err(match (init_error, exited) {
                    (Some(error), _) => {
                        format!("{} failed to initialise: {error}", self.function_name)
                    }
                    (None, Some(status)) => format!("{} exited with {status}", self.function_name),
                    (None, None) => {
                        format!("{} did not answer within {timeout:?}", self.function_name)
                    }
                })
            }
        }
    }

    /// Everything the function printed so far (log lines and EMF metrics).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}

async fn route(
    request: Request<Incoming>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<PendingEvent>>>,
    state: Arc<Mutex<ServerState>>,
    function_arn: String,
) -> Result<Reply, Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let document: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let accepted = reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}));
    let segments: Vec<&str> = path
        .trim_start_matches("/2018-06-01/runtime/")
        .split('/')
        .collect();
    match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            let next = receiver.lock().await.recv().await;
            let Some(event) = next else {
                return Ok(reply(StatusCode::GONE, Value::Null));
            };
            state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .waiting
                .insert(event.request_id.clone(), event.answer);
            let mut response = reply(StatusCode::OK, event.payload);
            let headers = response.headers_mut();
            for (name, value) in [
                ("lambda-runtime-aws-request-id", event.request_id),
                ("lambda-runtime-deadline-ms", event.deadline_ms.to_string()),
                ("lambda-runtime-invoked-function-arn", function_arn),
                ("content-type", "application/json".to_owned()),
            ] {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            Ok(response)
        }
        (Method::POST, ["invocation", request_id, outcome @ ("response" | "error")]) => {
            let waiting = state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .waiting
                .remove(*request_id);
            if let Some(answer) = waiting {
                let _ = answer.send(if *outcome == "response" {
                    Answer::Response(document)
                } else {
                    Answer::Error(document)
                });
            }
            Ok(accepted)
        }
        (Method::POST, ["init", "error"]) => {
            state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .init_error = Some(document);
            Ok(accepted)
        }
        _ => Ok(reply(
            StatusCode::NOT_FOUND,
            serde_json::json!({"errorMessage": format!("no route {path}")}),
        )),
    }
}

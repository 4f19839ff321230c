//! CloudWatch Embedded Metric Format (CloudWatch user guide, the EMF specification): metrics written as JSON log lines on
//! stdout, turned into metrics by CloudWatch Logs without any API call or extra permission.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric of the product.
pub const NAMESPACE: &str = "EcrPtcOps";
/// CloudWatch takes at most 100 metrics per directive.
const MAX_METRICS_PER_LINE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
    Bytes,
    /// A plain value such as `DaysUntilExpiry` or a 0/1 health flag.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// Extra dimensions beside `Function` (e.g. `[("Prefix", "docker-hub")]`).
type Dimensions = Vec<(String, String)>;

/// The metrics of one invocation. Every metric carries the `Function` dimension; metrics with
/// extra dimensions (`Prefix`, `Secret`) go in a line of their own per dimension set.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: String,
    // dimension set → metric name → (unit, value)
    values: BTreeMap<Dimensions, BTreeMap<String, (Unit, f64)>>,
}

impl Metrics {
    pub fn new(function: impl Into<String>) -> Self {
        Metrics {
            function: function.into(),
            values: BTreeMap::new(),
        }
    }

    /// Records a count with the `Function` dimension only.
    pub fn count(&mut self, name: &str, value: u64) {
        self.put(name, Unit::Count, value as f64, &[]);
    }

    /// Records a value; a second `put` of the same name and dimensions replaces the first.
    pub fn put(&mut self, name: &str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
        let dimensions: Dimensions = dimensions
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.values
            .entry(dimensions)
            .or_default()
            .insert(name.to_owned(), (unit, value));
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF lines, one JSON object each.
    pub fn to_lines(&self, timestamp_ms: u64) -> Vec<String> {
        let mut lines = Vec::new();
        for (dimensions, metrics) in &self.values {
            let metrics: Vec<(&String, &(Unit, f64))> = metrics.iter().collect();
            for chunk in metrics.chunks(MAX_METRICS_PER_LINE) {
                let mut dimension_keys = vec![json!("Function")];
                let mut line = Map::new();
                line.insert("Function".into(), json!(self.function));
                for (key, value) in dimensions {
                    dimension_keys.push(json!(key));
                    line.insert(key.clone(), json!(value));
                }
                let definitions: Vec<Value> = chunk
                    .iter()
                    .map(|(name, (unit, _))| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect();
                for (name, (_, value)) in chunk {
                    line.insert((*name).clone(), json!(value));
                }
                line.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": [dimension_keys],
                            "Metrics": definitions,
                        }]
                    }),
                );
                lines.push(Value::Object(line).to_string());
            }
        }
        lines
    }
}

/// Where EMF lines go: stdout in Lambda (CloudWatch Logs picks them up), a buffer in tests.
#[derive(Clone, Debug, Default)]
pub enum MetricsSink {
    #[default]
    Stdout,
    Captured(Arc<Mutex<Vec<String>>>),
}

impl MetricsSink {
    pub fn captured() -> Self {
        MetricsSink::Captured(Arc::default())
    }

    pub fn emit(&self, metrics: &Metrics) {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or_default();
        let lines = metrics.to_lines(timestamp_ms);
        match self {
            MetricsSink::Stdout => {
                let mut stdout = std::io::stdout().lock();
                for line in lines {
                    // A closed stdout must not fail the run; the metrics are lost either way.
                    let _ = writeln!(stdout, "{line}");
                }
            }
            MetricsSink::Captured(buffer) => {
                let mut buffer = buffer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                buffer.extend(lines);
            }
        }
    }

    /// Lines captured so far (empty for stdout).
    pub fn captured_lines(&self) -> Vec<String> {
        match self {
            MetricsSink::Stdout => Vec::new(),
            MetricsSink::Captured(buffer) => buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_dimension_set() {
        let mut metrics = Metrics::new("validate-cache-rules");
        metrics.count("RulesChecked", 3);
        metrics.count("RulesInvalid", 1);
        metrics.put("RuleValid", Unit::None, 0.0, &[("Prefix", "docker-hub")]);
        metrics.put("RuleValid", Unit::None, 1.0, &[("Prefix", "k8s")]);
        let lines: Vec<Value> = metrics
            .to_lines(1_700_000_000_000)
            .iter()
            .map(|line| serde_json::from_str(line).expect("EMF line is JSON"))
            .collect();
        assert_eq!(
            lines,
            vec![
                json!({
                    "_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [{
                        "Namespace": "EcrPtcOps", "Dimensions": [["Function"]],
                        "Metrics": [{"Name": "RulesChecked", "Unit": "Count"}, {"Name": "RulesInvalid", "Unit": "Count"}]
                    }]},
                    "Function": "validate-cache-rules", "RulesChecked": 3.0, "RulesInvalid": 1.0
                }),
                json!({
                    "_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [{
                        "Namespace": "EcrPtcOps", "Dimensions": [["Function", "Prefix"]],
                        "Metrics": [{"Name": "RuleValid", "Unit": "None"}]
                    }]},
                    "Function": "validate-cache-rules", "Prefix": "docker-hub", "RuleValid": 0.0
                }),
                json!({
                    "_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [{
                        "Namespace": "EcrPtcOps", "Dimensions": [["Function", "Prefix"]],
                        "Metrics": [{"Name": "RuleValid", "Unit": "None"}]
                    }]},
                    "Function": "validate-cache-rules", "Prefix": "k8s", "RuleValid": 1.0
                }),
            ]
        );
    }

    #[test]
    fn splits_directives_over_one_hundred_metrics() {
        let mut metrics = Metrics::new("harden-repository");
        for index in 0..150 {
            metrics.count(&format!("Metric{index:03}"), index);
        }
        let lines = metrics.to_lines(0);
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).expect("JSON");
        let definitions = first["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("array");
        assert_eq!(definitions.len(), 100);
    }

    #[test]
    fn captured_sink_keeps_lines() {
        let sink = MetricsSink::captured();
        let mut metrics = Metrics::new("prewarm-images");
        metrics.count("ImagesWarmed", 2);
        sink.emit(&metrics);
        let lines = sink.captured_lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("\"ImagesWarmed\":2.0"));
    }
}

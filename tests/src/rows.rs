//! Tables of named rows inside one integration test. Starting the emulator state a table needs
//! costs more than the rows, so a table stays one `#[test]`; [`Rows`] runs every row, keeps each
//! failing row's name and message, and fails once at the end naming all of them, so one failing
//! row does not hide the rows after it.
//!
//! ```ignore
//! let mut rows = Rows::new("drift");
//! for case in &cases {
//!     rows.check(case.name, async { /* the row's assertions */ }).await;
//! }
//! rows.assert_all_passed();
//! ```

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// The rows of one table run so far, and the ones that failed.
#[must_use = "call `assert_all_passed` after the last row, or the failures are lost"]
pub struct Rows {
    table: &'static str,
    checked: usize,
    failed: Vec<(String, String)>,
}

impl Rows {
    pub fn new(table: &'static str) -> Self {
        Rows {
            table,
            checked: 0,
            failed: Vec::new(),
        }
    }

    /// Runs one row; a panic in it (a failed assertion) is recorded under `name`.
    pub async fn check(&mut self, name: &str, row: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(row).catch_unwind().await;
        self.record(name, outcome);
    }

    /// [`Rows::check`] for a row that needs no `await`.
    pub fn check_now(&mut self, name: &str, row: impl FnOnce()) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(row));
        self.record(name, outcome);
    }

    fn record(&mut self, name: &str, outcome: Result<(), Box<dyn Any + Send>>) {
        self.checked += 1;
        if let Err(panic) = outcome {
            self.failed
                .push((name.to_owned(), panic_message(panic.as_ref())));
        }
    }

    /// Fails naming every row that failed, with its message.
    pub fn assert_all_passed(self) {
        assert!(self.checked > 0, "table `{}`: no row was run", self.table);
        if self.failed.is_empty() {
            return;
        }
        let list: Vec<String> = self
            .failed
            .iter()
            .map(|(name, message)| format!("- {name}: {message}"))
            .collect();
        panic!(
            "table `{}`: {} of {} rows failed:\n{}",
            self.table,
            self.failed.len(),
            self.checked,
            list.join("\n")
        );
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failing_row_is_named_and_the_others_still_run() {
        let mut rows = Rows::new("sample");
        let mut ran = Vec::new();
        rows.check_now("first", || assert_eq!(1, 2, "first row"));
        rows.check_now("second", || ran.push("second"));
        rows.check_now("third", || panic!("third row"));
        assert_eq!(ran, ["second"]);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| rows.assert_all_passed()));
        let message = match outcome {
            Ok(()) => panic!("two failed rows passed"),
            Err(panic) => panic_message(panic.as_ref()),
        };
        assert!(
            message.starts_with("table `sample`: 2 of 3 rows failed"),
            "{message}"
        );
        assert!(
            message.contains("- first: assertion `left == right` failed: first row"),
            "{message}"
        );
        assert!(message.contains("- third: third row"), "{message}");
        assert!(!message.contains("second"), "{message}");
    }
}

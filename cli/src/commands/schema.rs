//! `ptc schema <function>`: the JSON Schema of a function's report, the same text as
//! `schemas/<function>-report.schema.json`, for automation that reads `--json` output or the
//! functions' responses.

use std::process::ExitCode;

use ptc_ops::events::FunctionKind;
use ptc_ops::report_schema::schema_text;

use super::{CliError, EXIT_CLEAN};
use crate::args::{ReportFunction, SchemaArgs};

pub fn run(arguments: &SchemaArgs) -> Result<ExitCode, CliError> {
    let function = match arguments.function {
        ReportFunction::HardenRepository => FunctionKind::HardenRepository,
        ReportFunction::ValidateCacheRules => FunctionKind::ValidateCacheRules,
        ReportFunction::CheckCredentials => FunctionKind::CheckCredentials,
        ReportFunction::PrewarmImages => FunctionKind::PrewarmImages,
    };
    print!("{}", schema_text(function));
    Ok(ExitCode::from(EXIT_CLEAN))
}

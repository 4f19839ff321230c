//! `ptc schema <function>`: the JSON Schema of a function's report, the same text as
//! `schemas/<function>-report.schema.json`, for automation that reads `--json` output or the
//! functions' responses. `ptc schema config`: the JSON Schema of `ptc-ops.toml`, the same text as
//! `schemas/ptc-ops.toml.schema.json`, for editors.

use std::process::ExitCode;

use ptc_ops::config::config_schema_text;
use ptc_ops::events::FunctionKind;
use ptc_ops::report_schema::schema_text;

use super::{CliError, EXIT_CLEAN};
use crate::args::{SchemaArgs, SchemaSubject};

pub fn run(arguments: &SchemaArgs) -> Result<ExitCode, CliError> {
    let function = match arguments.subject {
        SchemaSubject::HardenRepository => FunctionKind::HardenRepository,
        SchemaSubject::ValidateCacheRules => FunctionKind::ValidateCacheRules,
        SchemaSubject::CheckCredentials => FunctionKind::CheckCredentials,
        SchemaSubject::PrewarmImages => FunctionKind::PrewarmImages,
        SchemaSubject::Config => {
            print!("{}", config_schema_text());
            return Ok(ExitCode::from(EXIT_CLEAN));
        }
    };
    print!("{}", schema_text(function));
    Ok(ExitCode::from(EXIT_CLEAN))
}

//! `invex schemas check|register`: the deployment's subjects against its Schema Registry.
//!
//! Every subject of `invex_runtime::SUBJECTS`: the canonical topics and outputs, and the
//! writer schemas of the shipped Avro raw sources (`<prefix>raw.rf.scanner-value` from
//! `schemas/raw/rf-scanner.avsc`), so a gateway whose serializer does not auto-register finds
//! its subject ready, and a changed vendor schema is checked for compatibility like ours.

use anyhow::anyhow;
use clap::Subcommand;
use invex_runtime::{SchemaAdmin, SchemaSource, SubjectReport, SubjectState};
use std::path::{Path, PathBuf};

use crate::Failure;
use crate::run::load_config;

/// What to do with the subjects.
#[derive(Debug, Subcommand)]
pub(crate) enum SchemasCommand {
    /// Compare every subject with the registry; fails if one is incompatible.
    Check {
        /// Configuration file (schema.registry_url, application.topic_prefix).
        #[arg(long)]
        config: PathBuf,
    },
    /// Register every missing or changed subject; registers nothing if one is incompatible.
    Register {
        /// Configuration file (schema.registry_url, application.topic_prefix).
        #[arg(long)]
        config: PathBuf,
    },
}

pub(crate) fn schemas(command: SchemasCommand) -> Result<(), Failure> {
    let (config, register) = match &command {
        SchemasCommand::Check { config } => (config, false),
        SchemasCommand::Register { config } => (config, true),
    };
    let admin = admin_for(config)?;
    let reports = if register { admin.register() } else { admin.check() }.map_err(Failure::from)?;
    for report in &reports {
        println!("{report}");
    }
    verdict(&reports, register)
}

fn admin_for(config: &Path) -> Result<SchemaAdmin, Failure> {
    let cfg = load_config(config)?;
    let SchemaSource::Registry { url, timeout } = &cfg.schema else {
        return Err(Failure::Input(anyhow!(
            "{}: schema.registry_url is not set (the embedded schemas need no registry)",
            config.display()
        )));
    };
    SchemaAdmin::new(url, *timeout, &cfg.topic_prefix).map_err(Failure::from)
}

/// Incompatible subjects fail the command: they would stop producers and processors later.
fn verdict(reports: &[SubjectReport], register: bool) -> Result<(), Failure> {
    let refused: Vec<&str> = reports
        .iter()
        .filter(|r| r.state == SubjectState::Incompatible)
        .map(|r| r.subject.as_str())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let what = if register { "nothing was registered: " } else { "" };
    Err(Failure::Input(anyhow!(
        "{what}incompatible with the registry's latest version: {}",
        refused.join(", ")
    )))
}

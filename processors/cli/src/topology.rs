//! `invex topology apply|check`: create or verify the topics of a deployment.

use std::path::PathBuf;

use clap::Subcommand;
use invex_detect::Engine;
use invex_runtime::admin::{create_missing, detect_topics, verify};
use invex_runtime::{Topics, base_client_config};

use crate::Failure;
use crate::run::load_config;

#[derive(Debug, Subcommand)]
pub(crate) enum TopologyCommand {
    /// Create every missing topic.
    Apply {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Partitions of the canonical inputs and changelogs.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Partitions of the output topics.
        #[arg(long, default_value_t = 6)]
        output_partitions: i32,
    },
    /// Verify that every topic exists and co-partitioned topics agree.
    Check {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

pub(crate) fn topology(command: TopologyCommand) -> Result<(), Failure> {
    let (config, partitions, output_partitions) = match &command {
        TopologyCommand::Apply { config, partitions, output_partitions } => {
            (config, *partitions, *output_partitions)
        }
        TopologyCommand::Check { config } => (config, 1, 1),
    };
    let cfg = load_config(config)?;
    let base = base_client_config(&cfg);
    let topics = Topics::new(&cfg.topic_prefix, &cfg.application_id);
    let stores: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
    let specs = detect_topics(&topics, &stores, partitions, output_partitions);
    if matches!(command, TopologyCommand::Apply { .. }) {
        for name in create_missing(&base, &specs)? {
            println!("created {name}");
        }
    }
    let n = verify(&base, &specs)?;
    println!(
        "ok: {} topics, co-partitioned inputs and changelogs have {n} partitions",
        specs.len()
    );
    Ok(())
}

//! `invex topology apply|check`: create or verify the topics of a deployment.
//!
//! Both cover every processor (detect, normalize, kpi), each under the application id the
//! configuration gives it (`invex-<processor>` unless `application.id` is set): detect's
//! canonical inputs, outputs and changelogs, normalize's raw topics (of the configured source
//! files) and changelogs, kpi's changelogs and `kpi` topic. Each processor is checked on its
//! own, since their tasks differ: detect's and normalize's have `--partitions`, kpi's read
//! detect's outputs and have `--output-partitions`.

use std::path::PathBuf;

use clap::Subcommand;
use invex_detect::Engine;
use invex_runtime::admin::{
    TopicSpec, create_missing, detect_topics, kpi_topics, normalize_topics, verify,
};
use invex_runtime::{ProcessorKind, RuntimeError, Topics, base_client_config};
use rdkafka::ClientConfig;

use crate::Failure;
use crate::run::{load_config_for, load_sources};

#[derive(Debug, Subcommand)]
pub(crate) enum TopologyCommand {
    /// Create every missing topic of every processor.
    Apply {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Partitions of the canonical and raw inputs and their changelogs.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Partitions of the output topics (and of the kpi processor's changelogs: its
        /// tasks are the partitions of detect's outputs).
        #[arg(long, default_value_t = 6)]
        output_partitions: i32,
    },
    /// Verify that every topic exists and co-partitioned topics agree, per processor.
    Check {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

/// The topics of one processor.
struct Plan {
    kind: ProcessorKind,
    specs: Vec<TopicSpec>,
}

pub(crate) fn topology(command: TopologyCommand) -> Result<(), Failure> {
    let (config, partitions, output_partitions) = match &command {
        TopologyCommand::Apply { config, partitions, output_partitions } => {
            (config, *partitions, *output_partitions)
        }
        TopologyCommand::Check { config } => (config, 1, 1),
    };
    let mut base: Option<ClientConfig> = None;
    let mut plans = Vec::new();
    for kind in ProcessorKind::ALL {
        let cfg = load_config_for(kind, config)?;
        let topics = Topics::new(&cfg.topic_prefix, &cfg.application_id);
        let specs = match kind {
            ProcessorKind::Detect => {
                let stores: Vec<&str> = Engine::store_names().iter().map(|s| s.as_str()).collect();
                detect_topics(&topics, &stores, partitions, output_partitions)
            }
            ProcessorKind::Normalize => {
                normalize_topics(&topics, &load_sources(&cfg)?, partitions, output_partitions)
            }
            ProcessorKind::Kpi => kpi_topics(&topics, output_partitions),
        };
        base.get_or_insert_with(|| base_client_config(&cfg));
        plans.push(Plan { kind, specs });
    }
    let base = base.ok_or_else(|| Failure::Input(anyhow::anyhow!("no processor")))?;
    if matches!(command, TopologyCommand::Apply { .. }) {
        for name in create_missing(&base, &union(&plans))? {
            println!("created {name}");
        }
    }
    let mut problems = Vec::new();
    for plan in &plans {
        match verify(&base, &plan.specs) {
            Ok(n) => println!(
                "ok: {}: {} topics, co-partitioned inputs and changelogs have {n} partitions",
                plan.kind.name(),
                plan.specs.len()
            ),
            Err(e) => problems.push(format!("{}: {e}", plan.kind.name())),
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(RuntimeError::Setup(problems.join("\n")).into()) }
}

/// Every topic of every plan, once (the first processor to name a topic decides its spec;
/// they agree on partitions and cleanup).
fn union(plans: &[Plan]) -> Vec<TopicSpec> {
    let mut all: Vec<TopicSpec> = Vec::new();
    for spec in plans.iter().flat_map(|p| &p.specs) {
        if all.iter().all(|s| s.name != spec.name) {
            all.push(spec.clone());
        }
    }
    all
}

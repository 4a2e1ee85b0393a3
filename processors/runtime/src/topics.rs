//! Topic names of one deployment: the canonical topics, the outputs, the raw topics of the
//! vendor sources, the changelogs and the detect processor's internal repartition topics.
//!
//! Every name is the default of DESIGN.md (or of a source file) behind the deployment's
//! prefix. Changelog topics
//! are `<prefix><application id>-<store>-changelog`: one per store, compacted, with the
//! partition count of the inputs (a task's changelog partition is its input partition).
//! Repartition topics are `<prefix><application id>-<stem>-repartition`, co-partitioned too:
//! a task reads partition p of each, whatever key brought a record there.

use std::collections::HashMap;

use invex_detect::RepartitionTopic;
use invex_model::CanonicalTopic;

/// Output streams of the processors: the detect processor's ([`Output::DETECT`]) and the kpi
/// processor's [`Output::Kpi`] (the DLQ is every processor's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// Latest version of each exception (compacted).
    Exceptions,
    /// Action commands.
    Actions,
    /// Append-only decision audit.
    Audit,
    /// Dead letters.
    Dlq,
    /// The action commands again, as JSON (CloudEvents binary mode), for low-code consumers
    /// (n8n and other kafkajs-based tools) that cannot decode Avro. Produced only when
    /// `outputs.actions_json` is on.
    ActionsJson,
    /// Hourly KPI records of the kpi processor, partial per kpi task (compacted, key
    /// `tenant|site|TYPE|window_start|task`).
    Kpi,
}

impl Output {
    /// Every output.
    pub const ALL: [Self; 6] =
        [Self::Exceptions, Self::Actions, Self::Audit, Self::Dlq, Self::ActionsJson, Self::Kpi];

    /// The outputs of the detect processor.
    pub const DETECT: [Self; 5] =
        [Self::Exceptions, Self::Actions, Self::Audit, Self::Dlq, Self::ActionsJson];

    /// Default topic name (and Avro subject stem).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Exceptions => "exceptions",
            Self::Actions => "actions",
            Self::Audit => "audit",
            Self::Dlq => "dlq",
            Self::ActionsJson => "actions.json",
            Self::Kpi => "kpi",
        }
    }

    /// Whether values are Avro with a registry subject (`false`: JSON, no schema).
    pub const fn is_avro(self) -> bool {
        !matches!(self, Self::ActionsJson)
    }
}

/// Resolved topic names.
#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
    application_id: String,
    inputs: Vec<(CanonicalTopic, String)>,
    by_name: HashMap<String, CanonicalTopic>,
}

impl Topics {
    /// The deployment's prefix in front of every topic name.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Names for `prefix` and `application_id`.
    pub fn new(prefix: &str, application_id: &str) -> Self {
        let inputs: Vec<(CanonicalTopic, String)> =
            CanonicalTopic::ALL.iter().map(|t| (*t, format!("{prefix}{}", t.name()))).collect();
        let by_name = inputs.iter().map(|(t, n)| (n.clone(), *t)).collect();
        Self {
            prefix: prefix.to_owned(),
            application_id: application_id.to_owned(),
            inputs,
            by_name,
        }
    }

    /// Canonical input topics with their names.
    pub fn inputs(&self) -> &[(CanonicalTopic, String)] {
        &self.inputs
    }

    /// Name of one canonical input.
    pub fn input(&self, topic: CanonicalTopic) -> &str {
        self.inputs.iter().find(|(t, _)| *t == topic).map(|(_, n)| n.as_str()).unwrap_or_default()
    }

    /// The canonical topic behind an input name.
    pub fn canonical(&self, name: &str) -> Option<CanonicalTopic> {
        self.by_name.get(name).copied()
    }

    /// Name of an output.
    pub fn output(&self, output: Output) -> String {
        format!("{}{}", self.prefix, output.name())
    }

    /// Name of a raw topic (a source file's `topic`).
    pub fn raw(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Name of a store's changelog topic.
    pub fn changelog(&self, store: &str) -> String {
        format!("{}{}-{}-changelog", self.prefix, self.application_id, store)
    }

    /// Name of an internal topic through which detect tasks send each other records keyed
    /// otherwise than the canonical topics (`<prefix><application id>-<stem>-repartition`,
    /// Kafka Streams' naming).
    pub fn repartition(&self, topic: RepartitionTopic) -> String {
        format!("{}{}-{}-repartition", self.prefix, self.application_id, topic.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_prefix_and_application() {
        let t = Topics::new("acme.", "invex-detect");
        assert_eq!(t.input(CanonicalTopic::Count), "acme.wh.count");
        assert_eq!(t.canonical("acme.erp.book"), Some(CanonicalTopic::Book));
        assert_eq!(t.canonical("wh.count"), None);
        assert_eq!(t.output(Output::Dlq), "acme.dlq");
        assert_eq!(t.changelog("ledger"), "acme.invex-detect-ledger-changelog");
        assert_eq!(t.raw("raw.wms.webhook"), "acme.raw.wms.webhook");
        assert_eq!(
            t.repartition(RepartitionTopic::SerialSightings),
            "acme.invex-detect-ls-sightings-repartition"
        );
        assert_eq!(t.inputs().len(), 11);
    }
}

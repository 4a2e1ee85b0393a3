//! `invex schemas check|register`: a deployment's subjects against its Schema Registry.
//!
//! Every value schema in `schemas/` is checked under its deployment subject (topic prefix +
//! `<topic>-value`, the TopicNameStrategy the codecs use). `register` checks every subject
//! first and registers nothing when one is incompatible, so a deployment is never left with
//! half of a schema change registered. Identity is decided on Avro's parsing canonical form,
//! not on text: registries normalise whitespace and attribute order.
//!
//! Compatibility is asked with `POST /compatibility/subjects/{s}/versions`, which honours a
//! TRANSITIVE level (every version, not just the latest); registries that predate that
//! endpoint answer 404 and are asked against `/versions/latest` instead.

use std::fmt;
use std::time::Duration;

use apache_avro::Schema;
use schema_registry_converter::blocking::schema_registry::{
    SrSettings, get_all_subjects, get_schema_by_subject, is_compatible_schema, post_schema,
};
use schema_registry_converter::schema_registry_common::{
    SchemaType, SubjectNameStrategy, SuppliedSchema,
};

use crate::error::RuntimeError;
use crate::schema::SUBJECTS;

/// Where one subject stands against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectState {
    /// The subject does not exist yet; registering creates it.
    Missing,
    /// The latest version is this schema.
    UpToDate {
        /// Its registry id.
        id: u32,
    },
    /// The latest version differs and the registry accepts this schema as its successor.
    Compatible,
    /// The registry's compatibility rules refuse this schema.
    Incompatible,
    /// Registered by this run.
    Registered {
        /// Its registry id.
        id: u32,
    },
}

/// One subject and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectReport {
    /// Deployment subject name.
    pub subject: String,
    /// Its state.
    pub state: SubjectState,
}

impl fmt::Display for SubjectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            SubjectState::Missing => "missing (registering creates it)".to_owned(),
            SubjectState::UpToDate { id } => format!("up to date (id {id})"),
            SubjectState::Compatible => "changed, compatible".to_owned(),
            SubjectState::Incompatible => "changed, INCOMPATIBLE".to_owned(),
            SubjectState::Registered { id } => format!("registered (id {id})"),
        };
        write!(f, "{:<40} {state}", self.subject)
    }
}

/// A client for the registry at `url`.
pub struct SchemaAdmin {
    settings: SrSettings,
    url: String,
    http: reqwest::blocking::Client,
    prefix: String,
}

#[derive(serde::Deserialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
}

impl SchemaAdmin {
    /// Talks to `url` with `timeout` per call, for topics named with `prefix`.
    pub fn new(url: &str, timeout: Duration, prefix: &str) -> Result<Self, RuntimeError> {
        let settings = SrSettings::new_builder(url.to_owned())
            .set_timeout(timeout)
            .build()
            .map_err(|e| RuntimeError::Setup(format!("schema registry {url}: {e}")))?;
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| RuntimeError::Setup(format!("schema registry {url}: {e}")))?;
        let url = url.trim_end_matches('/').to_owned();
        Ok(Self { settings, url, http, prefix: prefix.to_owned() })
    }

    /// The state of every subject.
    pub fn check(&self) -> Result<Vec<SubjectReport>, RuntimeError> {
        let existing =
            get_all_subjects(&self.settings).map_err(|e| failed("listing subjects", &e))?;
        SUBJECTS
            .iter()
            .map(|(base, text)| {
                let subject = format!("{}{base}", self.prefix);
                let state = if existing.contains(&subject) {
                    self.compare(&subject, text)?
                } else {
                    SubjectState::Missing
                };
                Ok(SubjectReport { subject, state })
            })
            .collect()
    }

    /// Registers every missing or changed subject, unless one is incompatible (then nothing
    /// is registered and the reports say which).
    pub fn register(&self) -> Result<Vec<SubjectReport>, RuntimeError> {
        let mut reports = self.check()?;
        if reports.iter().any(|r| r.state == SubjectState::Incompatible) {
            return Ok(reports);
        }
        for (report, (_, text)) in reports.iter_mut().zip(SUBJECTS.iter()) {
            if matches!(report.state, SubjectState::Missing | SubjectState::Compatible) {
                let supplied = SuppliedSchema::new(None, SchemaType::Avro, (*text).to_owned());
                let registered = post_schema(&self.settings, report.subject.clone(), supplied)
                    .map_err(|e| failed(&format!("registering {}", report.subject), &e))?;
                report.state = SubjectState::Registered { id: registered.id };
            }
        }
        Ok(reports)
    }

    fn compare(&self, subject: &str, text: &str) -> Result<SubjectState, RuntimeError> {
        let topic = subject.strip_suffix("-value").unwrap_or(subject).to_owned();
        let latest = get_schema_by_subject(
            &self.settings,
            &SubjectNameStrategy::TopicNameStrategy(topic, false),
        )
        .map_err(|e| failed(&format!("reading the latest {subject}"), &e))?;
        if same_schema(&latest.schema, text)? {
            return Ok(SubjectState::UpToDate { id: latest.id });
        }
        let supplied = SuppliedSchema::new(None, SchemaType::Avro, text.to_owned());
        let compatible = match is_compatible_schema(&self.settings, subject.to_owned(), supplied) {
            Ok(answer) => answer,
            Err(e) if e.to_string().contains("404") => {
                self.compatible_with_latest(subject, text)?
            }
            Err(e) => return Err(failed(&format!("checking compatibility of {subject}"), &e)),
        };
        Ok(if compatible { SubjectState::Compatible } else { SubjectState::Incompatible })
    }

    /// The compatibility check of registries without the all-versions endpoint.
    fn compatible_with_latest(&self, subject: &str, text: &str) -> Result<bool, RuntimeError> {
        let url = format!("{}/compatibility/subjects/{subject}/versions/latest", self.url);
        let fail = |e: &dyn fmt::Display| {
            RuntimeError::Setup(format!(
                "schema registry, checking compatibility of {subject}: {e}"
            ))
        };
        let answer: CompatibilityAnswer = self
            .http
            .post(&url)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .json(&serde_json::json!({ "schema": text }))
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .and_then(reqwest::blocking::Response::json)
            .map_err(|e| fail(&e))?;
        Ok(answer.is_compatible)
    }
}

/// Whether two schema texts are the same schema (Avro parsing canonical form).
fn same_schema(registered: &str, ours: &str) -> Result<bool, RuntimeError> {
    let parse = |text: &str| {
        Schema::parse_str(text)
            .map_err(|e| RuntimeError::Setup(format!("schema does not parse: {e}")))
    };
    Ok(parse(registered)?.canonical_form() == parse(ours)?.canonical_form())
}

fn failed(what: &str, e: &schema_registry_converter::error::SRCError) -> RuntimeError {
    RuntimeError::Setup(format!("schema registry, {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::same_schema;

    #[test]
    fn identity_ignores_layout_and_documentation() {
        let a = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
        let b = "{\n \"name\": \"R\", \"type\": \"record\", \"doc\": \"x\",\n \"fields\": [{\"type\": \"long\", \"name\": \"a\"}]}";
        let c = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
        assert!(same_schema(a, b).unwrap());
        assert!(!same_schema(a, c).unwrap());
    }
}

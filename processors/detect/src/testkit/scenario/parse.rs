//! Scenario TOML to [`Scenario`].

use invex_model::{ActionType, CanonicalTopic};
use serde_json::Map;
use toml::{Table, Value};

use super::events::{Defaults, EventSpec, to_json};
use super::expect::Expect;
use super::time::{duration_ms, instant_ms};
use super::{PipeStep, Scenario, Step};
use crate::policy::{DEFAULT_POLICY, Policy};

/// 2025-01-06T08:00:00Z, a Monday morning.
const DEFAULT_START: i64 = 1_736_150_400_000;

const TOP_KEYS: [&str; 8] =
    ["description", "start", "tenant", "site", "sku", "deliver_twice", "policy", "step"];
const STEP_KINDS: [&str; 6] =
    ["pipe", "advance_wall_clock", "set_wall_clock", "restore", "redeliver", "expect"];
/// Keys of a pipe step that steer the step rather than fill the event.
const PIPE_CONTROL: [&str; 9] = [
    "pipe",
    "at",
    "id",
    "freeze_at",
    "header",
    "exception",
    "request_attempt",
    "expect_error",
    "acks",
];

/// Parses a whole scenario.
pub(super) fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let table: Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    if let Some(key) = table.keys().find(|k| !TOP_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key {key:?}"));
    }
    let start = table.get("start").map_or(Ok(DEFAULT_START), |v| instant_ms(v, 0))?;
    let text_of = |key: &str, default: &str| -> Result<String, String> {
        match table.get(key) {
            None => Ok(default.to_owned()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("{key} must be a string, found {}", other.type_str())),
        }
    };
    let defaults = Defaults {
        tenant: text_of("tenant", "t1")?,
        site: text_of("site", "DC1")?,
        sku: text_of("sku", "SKU-1")?,
    };
    let extra = text_of("policy", "")?;
    let policy = Policy::from_toml_str(&format!("{DEFAULT_POLICY}\n{extra}"))
        .map_err(|e| format!("policy: {e}"))?;
    let deliver_twice = match table.get("deliver_twice") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(_) => return Err("deliver_twice must be a boolean".to_owned()),
    };
    let steps = match table.get("step") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| step(i + 1, item, start).map_err(|e| format!("step {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("a scenario needs [[step]]s".to_owned()),
    };
    Ok(Scenario {
        name: name.to_owned(),
        description: text_of("description", "")?,
        start,
        defaults,
        policy,
        deliver_twice,
        steps,
    })
}

fn step(n: usize, item: &Value, start: i64) -> Result<Step, String> {
    let Value::Table(t) = item else { return Err("a step must be a table".to_owned()) };
    let kinds: Vec<&str> = STEP_KINDS.into_iter().filter(|k| t.contains_key(*k)).collect();
    let [kind] = kinds.as_slice() else {
        return Err(format!("needs exactly one of {STEP_KINDS:?}, found {kinds:?}"));
    };
    if *kind != "pipe" && t.len() != 1 {
        return Err(format!("a {kind} step has no other keys"));
    }
    let Some(value) = t.get(*kind) else { return Err(format!("{kind} has no value")) };
    match *kind {
        "pipe" => pipe(n, t, start).map(Step::Pipe),
        "advance_wall_clock" => duration_ms(value).map(Step::AdvanceWallClock),
        "set_wall_clock" => instant_ms(value, start).map(Step::SetWallClock),
        "restore" if value.as_bool() == Some(true) => Ok(Step::Restore),
        "redeliver" => redeliver(value).map(Step::Redeliver),
        "expect" => value
            .clone()
            .try_into::<Expect>()
            .map(|e| Step::Expect(Box::new(e)))
            .map_err(|e| format!("expect: {e}")),
        _ => Err("restore must be true".to_owned()),
    }
}

fn redeliver(value: &Value) -> Result<Option<Vec<String>>, String> {
    match value {
        Value::String(s) if s == "all" => Ok(None),
        Value::Array(ids) => ids
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| "event ids are strings".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err("redeliver is \"all\" or a list of event ids".to_owned()),
    }
}

fn pipe(n: usize, t: &Table, start: i64) -> Result<PipeStep, String> {
    let topic_name = t.get("pipe").and_then(Value::as_str).ok_or("pipe names a topic")?;
    let topic: CanonicalTopic = topic_name.parse().map_err(|e| format!("{e}"))?;
    let time = instant_ms(t.get("at").ok_or("a pipe step needs `at`")?, start)?;
    let id = match t.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err("id must be a string".to_owned()),
        None => format!("{topic_name}-{n}"),
    };
    let header = match t.get("header") {
        Some(Value::Table(h)) => h.iter().map(|(k, v)| (k.clone(), to_json(v))).collect(),
        Some(_) => return Err("header must be a table".to_owned()),
        None => Map::new(),
    };
    let mut fields: Map<String, serde_json::Value> = t
        .iter()
        .filter(|(k, _)| !PIPE_CONTROL.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), to_json(v)))
        .collect();
    if let Some(freeze) = t.get("freeze_at") {
        fields.insert("freeze_time".to_owned(), instant_ms(freeze, start)?.into());
    }
    let expect_poison = match t.get("expect_error") {
        None => false,
        Some(Value::String(s)) if s == "poison" => true,
        Some(_) => return Err("expect_error can only be \"poison\"".to_owned()),
    };
    let exception = t.get("exception").and_then(Value::as_str).map(str::to_owned);
    let request_attempt = match t.get("request_attempt") {
        None => None,
        Some(Value::Integer(n)) => Some(i32::try_from(*n).map_err(|e| e.to_string())?),
        Some(_) => return Err("request_attempt must be an integer".to_owned()),
    };
    let acks = match t.get("acks") {
        None => None,
        Some(v) => Some(
            v.clone()
                .try_into::<ActionType>()
                .map_err(|e| format!("acks: not an action type: {e}"))?,
        ),
    };
    let event = EventSpec { topic, time, id, step: n, header, fields };
    Ok(PipeStep { event, exception, request_attempt, expect_poison, acks })
}

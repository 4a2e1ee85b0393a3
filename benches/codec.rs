//! The Avro codec (Confluent wire format) on canonical events, in records per second.
//!
//! The records are an evenly spaced sample of the realistic mix (`common/mix.rs`), every
//! topic in its share of the mix. Schemas come from the embedded resolver.
//!
//! - `codec/encode`: `Codec::encode_event` into one reused buffer.
//! - `codec/decode/cached_id`: the writer's schema id is the one this codec registered for the
//!   topic, the fast path: straight into the Rust type with the prepared reader.
//! - `codec/decode/uncached_id`: the writer's id is another one (a producer on an older or a
//!   differently registered schema). The codec asks its resolver for the writer schema (here
//!   an in-memory lookup: a registry resolver answers from its cache after the first call),
//!   builds a resolving reader, reads an Avro value and converts it. The writer schema is the
//!   reader's, so this is the smallest cost of that path.
//!
//! ```text
//! CARGO_TARGET_DIR=/root/.cache/invex-bench cargo bench --workspace --locked --bench codec
//! ```

#[path = "common/mix.rs"]
mod mix;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use invex_model::{CanonicalEvent, CanonicalTopic};
use invex_runtime::{Codec, EmbeddedResolver, ResolveError, SchemaResolver, StaticSchema, Topics};

/// Records per iteration.
const SAMPLE: usize = 2_000;
/// Added to every embedded schema id by [`ForeignIds`].
const ID_OFFSET: u32 = 1_000;

/// The embedded schemas registered under ids shifted by [`ID_OFFSET`]; the unshifted ids
/// still resolve. A codec built on it registers ids its records from an embedded-resolver
/// codec never carry, so every such record takes the resolution path.
struct ForeignIds(EmbeddedResolver);

impl SchemaResolver for ForeignIds {
    fn schema_by_id(&self, id: u32) -> Result<StaticSchema, ResolveError> {
        self.0.schema_by_id(id.checked_sub(ID_OFFSET).unwrap_or(id))
    }

    fn register(&self, subject: &str, text: &str) -> Result<(u32, StaticSchema), ResolveError> {
        let (id, schema) = self.0.register(subject, text)?;
        Ok((id + ID_OFFSET, schema))
    }
}

fn sample(mix: &[CanonicalEvent]) -> Vec<CanonicalEvent> {
    let step = (mix.len() / SAMPLE).max(1);
    mix.iter().step_by(step).take(SAMPLE).cloned().collect()
}

fn codec(c: &mut Criterion) {
    let topics = Topics::new("", "bench");
    let embedded = EmbeddedResolver::new().expect("embedded schemas parse");
    let own = Codec::new(Arc::new(embedded), &topics).expect("codec");
    let foreign_resolver = ForeignIds(EmbeddedResolver::new().expect("embedded schemas parse"));
    let foreign = Codec::new(Arc::new(foreign_resolver), &topics).expect("codec");
    let events = sample(&mix::shift());
    let encoded: Vec<(CanonicalTopic, Vec<u8>)> = events
        .iter()
        .map(|e| {
            let mut buf = Vec::new();
            own.encode_event(e, &mut buf).expect("encode");
            (e.topic(), buf)
        })
        .collect();
    let bytes: usize = encoded.iter().map(|(_, b)| b.len()).sum();
    println!("codec sample: {} records, {} bytes of Avro", encoded.len(), bytes);

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let mut buf = Vec::new();
    group.bench_function("encode", |b| {
        b.iter(|| {
            for e in &events {
                own.encode_event(e, &mut buf).expect("encode");
                black_box(buf.len());
            }
        });
    });
    for (name, codec) in [("decode/cached_id", &own), ("decode/uncached_id", &foreign)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for (topic, record) in &encoded {
                    black_box(codec.decode(*topic, Some(record)).expect("decode"));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);

//! The mock-cluster side of [`Cluster`]: librdkafka's in-process cluster, embedded schemas.

use std::sync::Arc;
use std::time::Duration;

use invex_runtime::admin::{create_on_mock, detect_topics};
use invex_runtime::{Codec, EmbeddedResolver, SchemaSource, Topics};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;

use crate::support::{APP, Cluster};

impl Cluster {
    /// A fresh mock cluster with `partitions` per co-partitioned topic; embedded schemas.
    pub(crate) fn mock(partitions: i32) -> Self {
        let mock = MockCluster::new(1).expect("mock cluster");
        let bootstrap = mock.bootstrap_servers();
        let topics = Topics::new("", APP);
        create_on_mock(&mock, &detect_topics(&topics, &Self::stores(), partitions, 2))
            .expect("topics");
        let codec = Codec::new(Arc::new(EmbeddedResolver::new().unwrap()), &topics).unwrap();
        let (app, schema) = (APP.to_owned(), SchemaSource::Embedded);
        Self { _mock: Some(mock), bootstrap, topics, partitions, app, schema, codec }
    }
}

impl Cluster {
    /// On the mock cluster, fails when any topic lost its oldest records. librdkafka's mock
    /// keeps at most 5 MiB or 100,000 message sets per partition and silently deletes the
    /// oldest beyond that (`rdkafka_mock.c`), so an input too large for it makes the processor
    /// and the driver disagree for a reason that is not invex's. A real broker is not checked:
    /// its retention is the deployment's setting.
    pub(crate) fn assert_mock_kept_everything(&self) {
        if self._mock.is_none() {
            return;
        }
        let client: BaseConsumer = self.client().create().expect("metadata client");
        let timeout = Duration::from_secs(10);
        let metadata = client.fetch_metadata(None, timeout).expect("metadata");
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                let (low, _) = client
                    .fetch_watermarks(topic.name(), partition.id(), timeout)
                    .expect("watermarks");
                assert_eq!(
                    low,
                    0,
                    "the mock cluster deleted the first {low} records of {} [{}]: the test's \
                     input is larger than the mock keeps (5 MiB or 100,000 message sets a \
                     partition)",
                    topic.name(),
                    partition.id()
                );
            }
        }
    }
}

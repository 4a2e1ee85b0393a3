//! The mock-cluster side of [`Cluster`]: librdkafka's in-process cluster, embedded schemas.

use std::sync::Arc;

use invex_runtime::admin::{create_on_mock, detect_topics};
use invex_runtime::{Codec, EmbeddedResolver, SchemaSource, Topics};
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

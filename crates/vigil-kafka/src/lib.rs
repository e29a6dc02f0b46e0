//! Kafka adapters of vigil: the consume-score-publish pipeline with
//! at-least-once delivery, dead-letter routing, topic setup, the
//! pipeline's metrics, and a loader that writes player events into a
//! topic. The only crate that imports rdkafka.

pub mod config;
pub mod context;
pub mod live;
pub mod load;
pub mod metrics;
pub mod pipeline;
mod probe;
pub mod profiles;
pub mod restore;
pub mod topics;

pub use config::{Guarantee, InputTopic, KafkaConfig, OutputTopic, PipelineConfig, TopicsConfig};
pub use context::StartFrom;
pub use live::Live;
pub use load::{LoadError, LoadSettings, Loaded, Loader};
pub use pipeline::{
    Health, Pipeline, PipelineError, PipelineSettings, Status, TXN_HEADER, dlq_headers,
};

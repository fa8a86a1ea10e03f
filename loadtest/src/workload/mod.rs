//! Synthetic object populations and access streams.
//!
//! A [`Profile`] (TOML) describes a population and how it is used:
//! lognormal object sizes, Zipf popularity over a fixed random ranking,
//! a diurnal cycle of the read rate, aging (an object's popularity decays
//! with its age), viral bursts (a random, usually cold, object suddenly
//! gets a stream of reads), periodic jobs (every `period_days`, a job reads
//! a fixed fraction of the objects), new arrivals and deletions.
//!
//! [`Generator`] turns a profile into a time-ordered stream of
//! [`Event`]s. The stream is a pure function of the profile (including
//! its `seed`): the same profile always yields the same events. Events
//! carry the object id as a number; [`object_key`] formats it as the 16
//! hex digits used in IBM COS traces.

mod dist;
mod generator;
mod profile;

pub use dist::{LogNormal, Zipf, poisson};
pub use generator::{Event, Generator, GeneratorOptions, InitialObject, object_key};
pub use profile::{
    AgingParams, DiurnalParams, ObjectParams, PeriodicJob, Profile, ProfileError, ReadParams,
    ViralParams,
};

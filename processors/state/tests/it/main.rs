//! Integration tests of invex-state against real RocksDB databases in temporary directories.

mod common;
mod lifecycle;
mod model;
mod resources;
mod restore;
mod transactions;

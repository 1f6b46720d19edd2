//! mqtt-native: an MQTT client for Node.js.
//!
//! Layers, dependencies pointing one way only (see DESIGN.md §1):
//! `binding` (N-API) → `driver` (tokio) → `session`, `transport` → `codec`.

pub mod codec;
pub mod driver;
pub mod persist;
pub mod session;
pub mod transport;

mod binding;

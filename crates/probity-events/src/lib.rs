//! The procurement-oversight event catalogue of Probity: what clerks, the discipline office
//! and administrators can record, as typed payloads with JSON Schemas, the role matrix that
//! says who may record what, and upcasting of older schema versions.
//!
//! Decoding names the field that is wrong:
//!
//! ```
//! use probity_events::decode;
//! use probity_core::envelope::Payload;
//!
//! let payload = Payload::from(serde_json::json!({
//!     "uscc": "91350100M000100Y44", "decision": "D-1", "meeting": "M-1"
//! }));
//! let err = decode("supplier.admitted", 1, &payload).unwrap_err();
//! assert!(err.to_string().contains("field `uscc`"), "{err}");
//! ```

pub mod catalogue;
pub mod checked;
pub mod docs;
pub mod governance;
pub mod integrity;
mod payload;
pub mod purchase;
pub mod rep;
pub mod scenario;
mod subjects;
pub mod supplier;
pub mod types;
pub mod upcast;

pub use catalogue::{
    decode, decode_body, role_matrix, spec, specs, validate_body, DecodeError, Event, EventPayload,
    EventSpec, Family,
};
pub use checked::{CheckError, CheckedEvent};

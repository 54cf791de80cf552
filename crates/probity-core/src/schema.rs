//! JSON Schema stand-ins for core types written as text (feature `schema`).

/// Defines a unit type standing in, in JSON Schemas, for something written as text or specified
/// elsewhere (e.g. a record, FORMAT.md §5), with its inline schema.
#[macro_export]
macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident, $title:literal, { $($schema:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        $crate::text_schema_of!($name, $title, { $($schema)* });
    };
}

/// Implements `JsonSchema` for a type serialized as text: an inline schema named `$title`.
#[macro_export]
macro_rules! text_schema_of {
    ($ty:ty, $title:literal, { $($schema:tt)* }) => {
        impl ::schemars::JsonSchema for $ty {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed($title)
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ $($schema)* })
            }
        }
    };
}

text_schema_of!(crate::keys::PublicKey, "PublicKey", {
    "type": "string",
    "description": "Ed25519 public key, standard base64 (with padding) of 32 bytes",
    "pattern": "^[A-Za-z0-9+/]{43}=$"
});

text_schema_of!(crate::keys::KeyId, "KeyId", {
    "type": "string",
    "description": "Key id: the first 16 bytes of SHA-256(\"probity/key-id/v1\\n\" || public key), lowercase hex",
    "pattern": "^[0-9a-f]{32}$"
});

text_schema_of!(crate::hash::Hash, "Hash", {
    "type": "string",
    "description": "SHA-256, lowercase hex",
    "pattern": "^[0-9a-f]{64}$"
});

text_schema_of!(crate::time::RecordedAt, "RecordedAt", {
    "type": "string",
    "description": "When the ledger recorded it: RFC 3339 UTC with exactly six fraction digits (FORMAT.md §5)",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"
});

text_schema_of!(crate::time::OccurredAt, "OccurredAt", {
    "type": "string",
    "description": "When it happened, as the signer stated it (RFC 3339 with an offset; FORMAT.md §3)",
    "format": "date-time"
});

text_schema_of!(crate::ids::Seq, "Seq", {
    "type": "integer",
    "description": "A record's sequence number (0 is genesis)",
    "minimum": 0
});

text_schema_of!(crate::verify::Finding, "Finding", {
    "type": "object",
    "description": "A finding of a verification (FORMAT.md §9): its code, the record it concerns, and what was found",
    "required": ["code", "seq", "message"],
    "additionalProperties": false,
    "properties": {
        "code": {"type": "string", "description": "The finding's code (FORMAT.md §9), e.g. hash-mismatch, broken-link, bad-signature"},
        "seq": {"type": "integer", "minimum": 0, "description": "The record (or, for a checkpoint, the tree size) it concerns"},
        "message": {"type": "string", "description": "What was found, in English"}
    }
});

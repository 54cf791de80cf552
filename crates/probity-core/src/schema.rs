//! JSON Schema stand-ins for core types written as text (feature `schema`).

/// Defines a unit type whose JSON Schema is an inline string schema with a pattern or format.
#[macro_export]
macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident, $title:literal, { $($schema:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl ::schemars::JsonSchema for $name {
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

text_schema!(
    /// A public key: standard base64 of 32 bytes.
    PublicKeyText, "PublicKey", {
        "type": "string",
        "description": "Ed25519 public key, standard base64 (with padding) of 32 bytes",
        "pattern": "^[A-Za-z0-9+/]{43}=$"
    }
);

text_schema!(
    /// A key id: 32 lowercase hex characters.
    KeyIdText, "KeyId", {
        "type": "string",
        "description": "Key id: the first 16 bytes of SHA-256(\"probity/key-id/v1\\n\" || public key), lowercase hex",
        "pattern": "^[0-9a-f]{32}$"
    }
);

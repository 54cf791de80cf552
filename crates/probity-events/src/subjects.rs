//! The subjects a payload names, read from the decoded payload: its top-level fields `uscc`
//! and `supplier` name suppliers, `filing_number` a rep, `case` a purchase case. Read by
//! walking the typed value with a serializer that looks at those four fields only, so a
//! payload is parsed once (into its type) and never again to find what it concerns.

use probity_core::subject::SubjectKind;
use serde::ser::{self, Impossible, Serialize};

/// The fields that name subjects, in the order their subjects are given (and checked).
const FIELDS: [(&str, SubjectKind); 4] = [
    ("uscc", SubjectKind::Supplier),
    ("supplier", SubjectKind::Supplier),
    ("filing_number", SubjectKind::Rep),
    ("case", SubjectKind::Case),
];

/// The subjects `payload` names, as (kind, id text), in [`FIELDS`] order. Fields that are
/// absent (`None`) or not text name nothing, as in the JSON form.
pub(crate) fn named_by<T: Serialize>(payload: &T) -> Vec<(SubjectKind, String)> {
    let mut found = Vec::new();
    // Only struct payloads name subjects; anything else (never a catalogue payload) names none.
    let _ = payload.serialize(Payload(&mut found));
    found.sort_by_key(|(rank, ..)| *rank);
    found.into_iter().map(|(_, kind, id)| (kind, id)).collect()
}

/// Subjects found, with the rank of the field that named each.
type Found = Vec<(usize, SubjectKind, String)>;

/// Why the walk stopped: the value was not a struct (or a field not text). Never shown.
#[derive(Debug)]
struct NotNamed;

impl std::fmt::Display for NotNamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a subject")
    }
}

impl std::error::Error for NotNamed {}

impl ser::Error for NotNamed {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotNamed
    }
}

/// Serializes a payload: accepts a struct and hands its subject fields to [`Field`].
struct Payload<'a>(&'a mut Found);

/// Serializes one subject field's value: text (possibly in `Some` or a newtype) is an id.
struct Field<'a>(&'a mut Found, usize, SubjectKind);

impl ser::SerializeStruct for Payload<'_> {
    type Ok = ();
    type Error = NotNamed;

    fn serialize_field<V: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &V,
    ) -> Result<(), NotNamed> {
        if let Some(rank) = FIELDS.iter().position(|(field, _)| *field == key) {
            // A subject field that is not text names nothing, as in the JSON form.
            let _ = value.serialize(Field(self.0, rank, FIELDS[rank].1));
        }
        Ok(())
    }

    fn end(self) -> Result<(), NotNamed> {
        Ok(())
    }
}

/// The serializer methods that mean "not this": everything but the ones each type takes.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), NotNamed> { Err(NotNamed) })*
    };
}

macro_rules! refuse_compounds {
    () => {
        type SerializeSeq = Impossible<(), NotNamed>;
        type SerializeTuple = Impossible<(), NotNamed>;
        type SerializeTupleStruct = Impossible<(), NotNamed>;
        type SerializeTupleVariant = Impossible<(), NotNamed>;
        type SerializeMap = Impossible<(), NotNamed>;
        type SerializeStructVariant = Impossible<(), NotNamed>;

        refuse!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_bytes(&[u8]),
            serialize_unit(),
            serialize_unit_struct(&'static str),
            serialize_unit_variant(&'static str, u32, &'static str),
        );

        fn serialize_newtype_variant<V: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &V,
        ) -> Result<(), NotNamed> {
            Err(NotNamed)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotNamed> {
            Err(NotNamed)
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotNamed> {
            Err(NotNamed)
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, NotNamed> {
            Err(NotNamed)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, NotNamed> {
            Err(NotNamed)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotNamed> {
            Err(NotNamed)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, NotNamed> {
            Err(NotNamed)
        }
    };
}

impl<'a> ser::Serializer for Payload<'a> {
    type Ok = ();
    type Error = NotNamed;
    type SerializeStruct = Payload<'a>;

    refuse_compounds!();
    refuse!(serialize_str(&str), serialize_none());

    fn serialize_some<V: ?Sized + Serialize>(self, _: &V) -> Result<(), NotNamed> {
        Err(NotNamed)
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<(), NotNamed> {
        value.serialize(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Payload<'a>, NotNamed> {
        Ok(self)
    }
}

impl ser::Serializer for Field<'_> {
    type Ok = ();
    type Error = NotNamed;
    type SerializeStruct = Impossible<(), NotNamed>;

    refuse_compounds!();
    refuse!(serialize_none());

    fn serialize_str(self, text: &str) -> Result<(), NotNamed> {
        self.0.push((self.1, self.2, text.to_owned()));
        Ok(())
    }
    fn serialize_some<V: ?Sized + Serialize>(self, value: &V) -> Result<(), NotNamed> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<V: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<(), NotNamed> {
        value.serialize(self)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), NotNamed>, NotNamed> {
        Err(NotNamed)
    }
}

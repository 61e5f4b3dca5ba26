//! Type-directed conversion between Fathom's values and PostgreSQL's binary types.
//!
//! Statements are built by sea-query with values in Fathom's canonical forms (uuids, timestamps,
//! dates and decimals as text; json as its text). A prepared statement knows the type PostgreSQL
//! inferred for every parameter, so each value is converted to that type here ([`bind`]). Rows
//! are read back by column type into the same canonical forms SQLite stores ([`read_value`]), so
//! the API answers byte for byte the same on both databases.

use std::error::Error;

use bytes::BytesMut;
use fathom_schema::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

use super::numeric::Numeric;
use crate::error::StoreError;

/// One bound parameter, already converted to the type of its placeholder.
#[derive(Debug)]
pub(crate) enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Uuid(Uuid),
    Timestamp(OffsetDateTime),
    Date(time::Date),
    Json(serde_json::Value),
    Numeric(Numeric),
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Bool(b) => b.to_sql(ty, out),
            Self::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            #[allow(clippy::cast_possible_truncation)] // float4 parameters are float4.
            Self::Float(x) if *ty == Type::FLOAT4 => (*x as f32).to_sql(ty, out),
            Self::Float(x) => x.to_sql(ty, out),
            Self::Text(s) => s.to_sql(ty, out),
            Self::Uuid(u) => u.to_sql(ty, out),
            Self::Timestamp(t) => t.to_sql(ty, out),
            Self::Date(d) => d.to_sql(ty, out),
            Self::Json(j) => j.to_sql(ty, out),
            Self::Numeric(n) => {
                n.encode(out);
                Ok(IsNull::No)
            }
        }
    }

    /// Every placeholder is accepted: [`convert`] already chose the variant by its type.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A statement ready to prepare: its SQL and its values, lowered out of sea-query's (which are
/// not `Send`, so may not be held across an await).
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) values: Vec<Raw>,
}

/// Lowers a built sea-query statement.
pub(crate) fn lower((text, values): (String, sea_query::Values)) -> Sql {
    Sql {
        text,
        values: values.0.into_iter().map(raw).collect(),
    }
}

/// A value as sea-query carries it, reduced to the shapes Fathom produces.
pub(crate) enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

fn raw(value: sea_query::Value) -> Raw {
    use sea_query::Value as Sea;
    match value {
        Sea::Bool(b) => b.map_or(Raw::Null, Raw::Bool),
        Sea::TinyInt(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::SmallInt(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::Int(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::BigInt(i) => i.map_or(Raw::Null, Raw::Int),
        Sea::TinyUnsigned(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::SmallUnsigned(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::Unsigned(i) => i.map_or(Raw::Null, |i| Raw::Int(i64::from(i))),
        Sea::BigUnsigned(i) => i.map_or(Raw::Null, |i| {
            Raw::Int(i64::try_from(i).unwrap_or(i64::MAX))
        }),
        Sea::Float(x) => x.map_or(Raw::Null, |x| Raw::Float(f64::from(x))),
        Sea::Double(x) => x.map_or(Raw::Null, Raw::Float),
        Sea::String(s) => s.map_or(Raw::Null, Raw::Text),
        Sea::Char(c) => c.map_or(Raw::Null, |c| Raw::Text(c.to_string())),
        _ => Raw::Null,
    }
}

fn mismatch(ty: &Type, what: &str) -> StoreError {
    StoreError::internal(format!("cannot bind {what} to a parameter of type {ty}"))
}

/// Parses a canonical (or any RFC 3339) timestamp.
pub(crate) fn parse_timestamp(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| StoreError::internal(format!("the timestamp {text:?} does not parse: {e}")))
}

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Converts one value to the type of its placeholder.
fn convert(raw: Raw, ty: &Type) -> Result<Param, StoreError> {
    Ok(match (raw, ty) {
        (Raw::Null, _) => Param::Null,
        (Raw::Bool(b), &Type::BOOL) => Param::Bool(b),
        (Raw::Bool(b), &Type::INT2 | &Type::INT4 | &Type::INT8) => Param::Int(i64::from(b)),
        (Raw::Int(i), &Type::INT2 | &Type::INT4 | &Type::INT8) => Param::Int(i),
        (Raw::Int(i), &Type::BOOL) => Param::Bool(i != 0),
        #[allow(clippy::cast_precision_loss)] // Fathom binds floats where it compares as floats.
        (Raw::Int(i), &Type::FLOAT4 | &Type::FLOAT8) => Param::Float(i as f64),
        (Raw::Int(i), &Type::NUMERIC) => Param::Numeric(Numeric::parse(&i.to_string())?),
        (Raw::Float(x), &Type::FLOAT4 | &Type::FLOAT8) => Param::Float(x),
        (Raw::Float(x), &Type::NUMERIC) => Param::Numeric(Numeric::parse(&format!("{x}"))?),
        (Raw::Float(x), &Type::INT2 | &Type::INT4 | &Type::INT8)
            if x.fract() == 0.0 && x.abs() < 9.2e18 =>
        {
            #[allow(clippy::cast_possible_truncation)] // Integral and within bigint's range.
            Param::Int(x as i64)
        }
        (Raw::Text(s), &Type::UUID) => Param::Uuid(
            Uuid::parse_str(&s)
                .map_err(|e| StoreError::internal(format!("the id {s:?} is no uuid: {e}")))?,
        ),
        (Raw::Text(s), &Type::TIMESTAMPTZ) => Param::Timestamp(parse_timestamp(&s)?),
        (Raw::Text(s), &Type::DATE) => Param::Date(
            time::Date::parse(&s, DATE_FORMAT)
                .map_err(|e| StoreError::internal(format!("the date {s:?} does not parse: {e}")))?,
        ),
        (Raw::Text(s), &Type::JSONB | &Type::JSON) => Param::Json(
            serde_json::from_str(&s)
                .map_err(|e| StoreError::internal(format!("json that does not parse: {e}")))?,
        ),
        (Raw::Text(s), &Type::NUMERIC) => Param::Numeric(Numeric::parse(&s)?),
        (Raw::Text(s), _) if <String as ToSql>::accepts(ty) => Param::Text(s),
        (Raw::Int(i), _) if <String as ToSql>::accepts(ty) => Param::Text(i.to_string()),
        (Raw::Bool(_), _) => return Err(mismatch(ty, "a boolean")),
        (Raw::Int(_), _) => return Err(mismatch(ty, "an integer")),
        (Raw::Float(_), _) => return Err(mismatch(ty, "a float")),
        (Raw::Text(_), _) => return Err(mismatch(ty, "text")),
    })
}

/// Converts sea-query's values to parameters of the types the statement declares.
pub(crate) fn bind(values: Vec<Raw>, types: &[Type]) -> Result<Vec<Param>, StoreError> {
    if values.len() != types.len() {
        return Err(StoreError::internal(format!(
            "{} values for {} parameters",
            values.len(),
            types.len()
        )));
    }
    values
        .into_iter()
        .zip(types)
        .map(|(value, ty)| convert(value, ty))
        .collect()
}

/// The parameters as the driver takes them.
pub(crate) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn read_error(column: usize, e: impl std::fmt::Display) -> StoreError {
    StoreError::internal(format!("reading column {column}: {e}"))
}

/// Reads column `index` as a typed optional value.
pub(crate) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index).map_err(|e| read_error(index, e))
}

/// Formats an instant in the canonical timestamp form.
pub(crate) fn timestamp_text(at: OffsetDateTime) -> Result<String, StoreError> {
    fathom_schema::value::format_timestamp(at)
        .ok_or_else(|| StoreError::internal(format!("the timestamp {at} is out of range")))
}

/// Reads a timestamptz column as canonical text.
pub(crate) fn get_timestamp(row: &Row, index: usize) -> Result<Option<String>, StoreError> {
    get::<Option<OffsetDateTime>>(row, index)?
        .map(timestamp_text)
        .transpose()
}

/// Reads a uuid column.
pub(crate) fn get_uuid(row: &Row, index: usize) -> Result<Uuid, StoreError> {
    get::<Uuid>(row, index)
}

/// Reads column `index` by its type into Fathom's canonical form.
pub(crate) fn read_value(row: &Row, index: usize) -> Result<Value, StoreError> {
    let ty = row
        .columns()
        .get(index)
        .map(|c| c.type_().clone())
        .ok_or_else(|| read_error(index, "no such column"))?;
    let value = match ty {
        Type::BOOL => get::<Option<bool>>(row, index)?.map(Value::Bool),
        Type::INT2 => get::<Option<i16>>(row, index)?.map(|i| Value::Integer(i64::from(i))),
        Type::INT4 => get::<Option<i32>>(row, index)?.map(|i| Value::Integer(i64::from(i))),
        Type::INT8 => get::<Option<i64>>(row, index)?.map(Value::Integer),
        Type::FLOAT4 => get::<Option<f32>>(row, index)?.map(|x| Value::Number(f64::from(x))),
        Type::FLOAT8 => get::<Option<f64>>(row, index)?.map(Value::Number),
        Type::NUMERIC => get::<Option<Numeric>>(row, index)?.map(|n| Value::Text(n.to_string())),
        Type::UUID => {
            get::<Option<Uuid>>(row, index)?.map(|u| Value::Text(u.hyphenated().to_string()))
        }
        Type::TIMESTAMPTZ => get_timestamp(row, index)?.map(Value::Text),
        Type::DATE => get::<Option<time::Date>>(row, index)?
            .map(|d| d.format(DATE_FORMAT).map(Value::Text))
            .transpose()
            .map_err(|e| read_error(index, e))?,
        Type::JSONB | Type::JSON => get::<Option<serde_json::Value>>(row, index)?.map(Value::Json),
        _ => get::<Option<String>>(row, index)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

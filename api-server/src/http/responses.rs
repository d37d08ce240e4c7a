//! Success answers shared by several operations.

use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::types::{ToJSON, Type};

/// A newly created resource.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON + Type> {
    /// Created.
    #[oai(status = 201)]
    Ok(Json<T>),
}

/// An answer with no body.
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

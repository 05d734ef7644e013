//! The documents the Directory issues, rendered from domain and read-model types and knowing
//! nothing of GraphQL or HTTP: invoice and SLA report PDFs, XRechnung (EN 16931, CII), and
//! the DATEV booking batch.

pub mod address;
pub mod datev;
pub mod pdf;
pub mod xrechnung;

//! The `search` query over the catalog, within what the caller may see.

use async_graphql::ID;
use projections::At;

use super::types::{SearchHit, SearchStep};
use app::auth::Principal;

pub fn find(at: At<'_>, who: &Principal, needle: &str, first: usize) -> Vec<SearchHit> {
    at.search(needle, first, |customer| match customer {
        Some(c) => who.can_read_customer(c),
        None => who.is_staff(),
    })
    .into_iter()
    .map(|h| SearchHit {
        kind: h.kind.to_owned(),
        id: ID(h.id),
        title: h.title,
        path: h.path.iter().map(|s| s.name.clone()).collect(),
        steps: h.path.into_iter().map(|s| SearchStep { kind: s.kind.to_owned(), id: ID(s.id), name: s.name }).collect(),
    })
    .collect()
}

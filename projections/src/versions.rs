//! Every recorded version of the entities of one kind: the state after each event that
//! changed an entity, stamped with that event's log position. The newest version is the
//! live state; the version in force at a past position is one binary search away, which
//! is what makes "as of" answers cheap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent, bound(serialize = "K: Serialize, T: Serialize"))]
pub struct Versions<K, T> {
    by_id: BTreeMap<K, Vec<(i64, T)>>,
}

impl<'de, K: Ord + Deserialize<'de>, T: Deserialize<'de>> Deserialize<'de> for Versions<K, T> {
    /// JSON does not say how long an array is, so each entity's versions grew by doubling
    /// while they were decoded (room for four at least); most entities have one or two.
    /// Their spare room is given back at once, for what is decoded next to reuse.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut by_id = BTreeMap::<K, Vec<(i64, T)>>::deserialize(deserializer)?;
        by_id.values_mut().for_each(Vec::shrink_to_fit);
        Ok(Versions { by_id })
    }
}

impl<K, T> Default for Versions<K, T> {
    fn default() -> Self {
        Versions { by_id: BTreeMap::new() }
    }
}

/// The version in force at `position`: the last one stamped at or before it.
fn version_at<T>(versions: &[(i64, T)], position: i64) -> Option<&T> {
    match versions.last() {
        Some((p, t)) if *p <= position => Some(t),
        _ => versions.partition_point(|(p, _)| *p <= position).checked_sub(1).map(|i| &versions[i].1),
    }
}

impl<K: Ord + Copy, T: Clone + Default> Versions<K, T> {
    /// The live state of an entity.
    pub fn get(&self, id: &K) -> Option<&T> {
        self.by_id.get(id)?.last().map(|(_, t)| t)
    }

    /// The state of an entity after the log was folded up to `position`; none before it existed.
    pub fn get_at(&self, id: &K, position: i64) -> Option<&T> {
        version_at(self.by_id.get(id)?, position)
    }

    /// The positions of the events that made the entity's versions up to `position`.
    pub fn positions_at(&self, id: &K, position: i64) -> Vec<i64> {
        self.by_id.get(id).map_or(vec![], |v| v.iter().map(|(p, _)| *p).take_while(|p| *p <= position).collect())
    }

    pub fn contains_key(&self, id: &K) -> bool {
        self.by_id.contains_key(id)
    }

    /// Every entity's live state, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &T)> {
        self.by_id.iter().filter_map(|(k, v)| v.last().map(|(_, t)| (k, t)))
    }

    /// Every entity that existed at `position`, in its state then, by id.
    pub fn iter_at(&self, position: i64) -> impl Iterator<Item = (&K, &T)> {
        self.by_id.iter().filter_map(move |(k, v)| version_at(v, position).map(|t| (k, t)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.by_id.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, t)| t)
    }

    /// How many entities exist now.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A new version of the entity at `position`, starting as a copy of its live state (or
    /// the default for a new one), for the caller to evolve.
    pub fn next(&mut self, id: K, position: i64) -> &mut T {
        let versions = self.by_id.entry(id).or_default();
        match versions.last() {
            Some((p, _)) if *p == position => {}
            Some((_, t)) => {
                let copy = t.clone();
                versions.push((position, copy));
            }
            None => versions.push((position, T::default())),
        }
        &mut versions.last_mut().expect("a version was just pushed").1
    }
}

#[cfg(test)]
mod tests {
    use super::Versions;

    #[test]
    fn each_position_sees_the_version_in_force_then() {
        let mut v: Versions<u8, Vec<&str>> = Versions::default();
        v.next(1, 10).push("a");
        v.next(2, 11).push("x");
        v.next(1, 15).push("b");
        v.next(1, 15).push("c");
        assert_eq!(v.get_at(&1, 9), None, "before it existed");
        assert_eq!(v.get_at(&1, 10), Some(&vec!["a"]));
        assert_eq!(v.get_at(&1, 14), Some(&vec!["a"]));
        assert_eq!(v.get_at(&1, 15), Some(&vec!["a", "b", "c"]), "one event, one version");
        assert_eq!(v.get(&1), v.get_at(&1, i64::MAX));
        assert_eq!(v.iter_at(10).map(|(k, _)| *k).collect::<Vec<_>>(), vec![1]);
        assert_eq!(v.iter_at(11).map(|(k, _)| *k).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(v.len(), 2);
    }
}

//! Every recorded version of the entities of one kind: the state after each event that
//! changed an entity, stamped with that event's log position. The newest version is the
//! live state; the version in force at a past position is one binary search away, which
//! is what makes "as of" answers cheap.
//!
//! Versions superseded long ago are rarely asked for, yet they would make every restart
//! decode the whole history again. [`Versions::settle`] moves them out of the decoded
//! map into a segment of deflated chunks, and each chunk is decoded only when a question
//! first reaches into it. The version in force when a segment was cut stays decoded, so
//! the live state and every answer since the cut never touch a segment. A restart then
//! decodes what the fleet is now and what changed lately; the rest stays bytes.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// About this many entities share a chunk: small enough that a first look into the past
/// decodes a fraction of a millisecond, large enough to deflate well.
const CHUNK: usize = 64;

type History<T> = Vec<(i64, T)>;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(bound(serialize = "K: Serialize, T: Serialize"))]
pub struct Versions<K, T> {
    /// Each entity's versions since it was last settled, and the one in force then.
    current: BTreeMap<K, History<T>>,
    /// Older versions, oldest segment first.
    settled: Vec<Segment<K, T>>,
}

impl<'de, K: Ord + Deserialize<'de>, T: Deserialize<'de>> Deserialize<'de> for Versions<K, T> {
    /// JSON does not say how long an array is, so each entity's versions grew by doubling
    /// while they were decoded (room for four at least); most entities have one or two.
    /// Their spare room is given back at once, for what is decoded next to reuse.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound(deserialize = "K: Ord + Deserialize<'de>, T: Deserialize<'de>"))]
        struct Stored<K, T> {
            current: BTreeMap<K, History<T>>,
            settled: Vec<Segment<K, T>>,
        }
        let Stored { mut current, settled } = Stored::deserialize(deserializer)?;
        current.values_mut().for_each(Vec::shrink_to_fit);
        Ok(Versions { current, settled })
    }
}

impl<K, T> Default for Versions<K, T> {
    fn default() -> Self {
        Versions { current: BTreeMap::new(), settled: vec![] }
    }
}

/// The version in force at `position`: the last one stamped at or before it.
fn version_at<T>(versions: &[(i64, T)], position: i64) -> Option<&T> {
    match versions.last() {
        Some((p, t)) if *p <= position => Some(t),
        _ => versions.partition_point(|(p, _)| *p <= position).checked_sub(1).map(|i| &versions[i].1),
    }
}

impl<K: Ord + Copy + Serialize + DeserializeOwned, T: Clone + Default + Serialize + DeserializeOwned> Versions<K, T> {
    /// The live state of an entity.
    pub fn get(&self, id: &K) -> Option<&T> {
        self.current.get(id)?.last().map(|(_, t)| t)
    }

    /// The state of an entity after the log was folded up to `position`; none before it existed.
    pub fn get_at(&self, id: &K, position: i64) -> Option<&T> {
        self.version_at(id, self.current.get(id)?, position)
    }

    fn version_at<'a>(&'a self, id: &K, current: &'a [(i64, T)], position: i64) -> Option<&'a T> {
        match current.first() {
            Some((first, _)) if *first <= position => version_at(current, position),
            // Each segment holds versions older than the next one's: the newest that has
            // one in force at `position` has the answer.
            _ => self.settled.iter().rev().find_map(|s| version_at(s.versions(id, position)?, position)),
        }
    }

    /// The positions of the events that made the entity's versions up to `position`.
    pub fn positions_at(&self, id: &K, position: i64) -> Vec<i64> {
        let settled = self.settled.iter().filter_map(|s| s.versions(id, position)).flatten();
        let current = self.current.get(id).into_iter().flatten();
        settled.chain(current).map(|(p, _)| *p).take_while(|p| *p <= position).collect()
    }

    pub fn contains_key(&self, id: &K) -> bool {
        self.current.contains_key(id)
    }

    /// Every entity's live state, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &T)> {
        self.current.iter().filter_map(|(k, v)| v.last().map(|(_, t)| (k, t)))
    }

    /// Every entity that existed at `position`, in its state then, by id.
    pub fn iter_at(&self, position: i64) -> impl Iterator<Item = (&K, &T)> {
        self.current.iter().filter_map(move |(k, v)| self.version_at(k, v, position).map(|t| (k, t)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.current.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, t)| t)
    }

    /// How many entities exist now.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// A new version of the entity at `position`, starting as a copy of its live state (or
    /// the default for a new one), for the caller to evolve.
    pub fn next(&mut self, id: K, position: i64) -> &mut T {
        let versions = self.current.entry(id).or_default();
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

    /// Moves every version superseded before `position` into a new settled segment; each
    /// entity keeps decoded the version in force at `position` and those after it.
    pub fn settle(&mut self, position: i64) {
        let mut moved: Vec<(K, History<T>)> = vec![];
        for (id, versions) in &mut self.current {
            let before = versions.partition_point(|(p, _)| *p < position);
            if before > 1 {
                let kept = versions.split_off(before - 1);
                moved.push((*id, std::mem::replace(versions, kept)));
            }
        }
        if !moved.is_empty() {
            self.settled.push(Segment::of(moved));
        }
    }

    /// How many versions are decoded for every question, and how many are settled.
    pub fn counts(&self) -> (usize, usize) {
        let current = self.current.values().map(Vec::len).sum();
        (current, self.settled.iter().flat_map(|s| &s.chunks).map(|c| c.versions).sum())
    }
}

/// The versions moved out by one [`Versions::settle`], in chunks of consecutive entities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de>"))]
struct Segment<K, T> {
    chunks: Vec<Chunk<K, T>>,
}

/// The versions of up to [`CHUNK`] entities, deflated JSON until first needed.
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de>"))]
struct Chunk<K, T> {
    /// The first entity's id: chunks are ordered by it.
    first: K,
    /// The earliest position of a version in the chunk.
    from: i64,
    versions: usize,
    #[serde(with = "hex_bytes")]
    deflated: Vec<u8>,
    #[serde(skip)]
    decoded: OnceLock<Vec<(K, History<T>)>>,
}

/// A copy leaves the decoded versions behind: copies are taken to be written to a
/// snapshot, which stores the bytes only.
impl<K: Clone, T> Clone for Chunk<K, T> {
    fn clone(&self) -> Self {
        let Chunk { first, from, versions, deflated, decoded: _ } = self;
        Chunk {
            first: first.clone(),
            from: *from,
            versions: *versions,
            deflated: deflated.clone(),
            decoded: OnceLock::new(),
        }
    }
}

impl<K: PartialEq, T> PartialEq for Chunk<K, T> {
    fn eq(&self, other: &Self) -> bool {
        (&self.first, self.from, &self.deflated) == (&other.first, other.from, &other.deflated)
    }
}

impl<K: std::fmt::Debug, T> std::fmt::Debug for Chunk<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk").field("first", &self.first).field("from", &self.from).finish_non_exhaustive()
    }
}

impl<K: Ord + Copy + Serialize + DeserializeOwned, T: Serialize + DeserializeOwned> Segment<K, T> {
    /// `moved` is ordered by id, as the map it came from.
    fn of(moved: Vec<(K, History<T>)>) -> Segment<K, T> {
        let chunks = moved
            .chunks(CHUNK)
            .map(|entities| {
                let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                serde_json::to_writer(&mut deflate, entities).expect("versions serialise");
                Chunk {
                    first: entities[0].0,
                    from: entities.iter().filter_map(|(_, v)| v.first()).map(|(p, _)| *p).min().unwrap_or(i64::MAX),
                    versions: entities.iter().map(|(_, v)| v.len()).sum(),
                    deflated: deflate.finish().expect("deflating into memory cannot fail"),
                    decoded: OnceLock::new(),
                }
            })
            .collect();
        Segment { chunks }
    }

    /// The entity's versions in this segment, if it has any that could be in force at
    /// `position`; decodes their chunk the first time.
    fn versions(&self, id: &K, position: i64) -> Option<&[(i64, T)]> {
        let chunk = &self.chunks[self.chunks.partition_point(|c| c.first <= *id).checked_sub(1)?];
        if chunk.from > position {
            return None;
        }
        let entities = chunk.decoded.get_or_init(|| chunk.decode());
        let i = entities.binary_search_by(|(k, _)| k.cmp(id)).ok()?;
        Some(&entities[i].1)
    }
}

impl<K: DeserializeOwned, T: DeserializeOwned> Chunk<K, T> {
    fn decode(&self) -> Vec<(K, History<T>)> {
        let mut json = Vec::new();
        // These bytes were deflated from JSON by this process or came in a snapshot that
        // decoded; failing here would be a bug, not bad input.
        flate2::read::ZlibDecoder::new(&self.deflated[..]).read_to_end(&mut json).expect("a settled chunk inflates");
        serde_json::from_slice(&json).expect("a settled chunk decodes")
    }
}

/// Deflated bytes in a snapshot's JSON, as hex (which the snapshot's own deflate packs
/// back to about their size).
mod hex_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Versions;

    #[test]
    fn each_position_sees_the_version_in_force_then() {
        let mut v: Versions<u8, Vec<String>> = Versions::default();
        v.next(1, 10).push("a".into());
        v.next(2, 11).push("x".into());
        v.next(1, 15).push("b".into());
        v.next(1, 15).push("c".into());
        assert_eq!(v.get_at(&1, 9), None, "before it existed");
        assert_eq!(v.get_at(&1, 10), Some(&vec!["a".to_owned()]));
        assert_eq!(v.get_at(&1, 14), Some(&vec!["a".to_owned()]));
        assert_eq!(v.get_at(&1, 15).map(Vec::len), Some(3), "one event, one version");
        assert_eq!(v.get(&1), v.get_at(&1, i64::MAX));
        assert_eq!(v.iter_at(10).map(|(k, _)| *k).collect::<Vec<_>>(), vec![1]);
        assert_eq!(v.iter_at(11).map(|(k, _)| *k).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(v.len(), 2);
    }

    type Answers = Vec<(i64, Vec<(u16, Vec<String>)>, Vec<Vec<i64>>)>;

    /// Every answer of `v` at positions 0..=end.
    fn answers(v: &Versions<u16, Vec<String>>, end: i64) -> Answers {
        (0..=end)
            .map(|p| {
                let all = v.iter_at(p).map(|(k, t)| (*k, t.clone())).collect();
                let positions = (0..200).map(|id| v.positions_at(&id, p)).collect();
                (p, all, positions)
            })
            .collect()
    }

    #[test]
    fn settled_versions_answer_as_before_and_leave_only_the_recent_decoded() {
        // 200 entities (several chunks); entity n changes at every position that n divides.
        let mut v: Versions<u16, Vec<String>> = Versions::default();
        let mut settled = v.clone();
        for position in 1..=120i64 {
            for id in 0..200u16 {
                if id == 0 || position % i64::from(id) == 0 {
                    for w in [&mut v, &mut settled] {
                        w.next(id, position).push(format!("{id}@{position}"));
                    }
                }
            }
            if position % 30 == 0 {
                settled.settle(position - 10);
            }
        }
        assert_eq!(answers(&settled, 121), answers(&v, 121), "every position answers the same");
        let (decoded, moved) = settled.counts();
        assert_eq!(decoded + moved, v.counts().0, "no version lost or doubled");
        // Decoded: the version in force at the last cut (110) and those after it.
        let recent = |h: &Vec<(i64, Vec<String>)>| h.len() + 1 - h.partition_point(|(p, _)| *p < 110).max(1);
        assert_eq!(decoded, v.current.values().map(recent).sum::<usize>());
        assert!(decoded * 2 < moved, "{decoded} decoded, {moved} settled");
        assert_eq!(v.iter().collect::<Vec<_>>(), settled.iter().collect::<Vec<_>>(), "the live state");

        // What a restart loads: the settled versions stay bytes until asked for.
        let json = serde_json::to_string(&settled).unwrap();
        let restored: Versions<u16, Vec<String>> = serde_json::from_str(&json).unwrap();
        assert!(restored.settled.iter().flat_map(|s| &s.chunks).all(|c| c.decoded.get().is_none()));
        assert_eq!(restored, settled);
        assert_eq!(restored.get_at(&7, 14), Some(&(1..=2).map(|k| format!("7@{}", 7 * k)).collect()));
        let chunks = restored.settled.iter().flat_map(|s| &s.chunks);
        assert_eq!(chunks.filter(|c| c.decoded.get().is_some()).count(), 1, "one look decodes one chunk");
        assert_eq!(answers(&restored, 121), answers(&v, 121));
        assert_eq!(serde_json::to_string(&restored).unwrap(), json, "decoding changes nothing stored");
    }
}

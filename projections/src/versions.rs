//! Every recorded version of the entities of one kind: the state after each event that
//! changed an entity, stamped with that event's log position. The newest version is the
//! live state; the version in force at a past position is one binary search away, which
//! is what makes "as of" answers cheap.
//!
//! Versions superseded long ago are rarely asked for, yet they would make every restart
//! decode the whole history again. [`Versions::start_settling`] moves them out of the
//! decoded map into a segment of deflated chunks, and each chunk is decoded only when a
//! question first reaches into it. The version in force when a segment was cut stays
//! decoded, so the live state and every answer since the cut never touch a segment. A
//! restart then decodes what the fleet is now and what changed lately; the rest stays bytes.
//!
//! A settling is done a few entities at a time, one step with each event folded
//! ([`Versions::settle_step`]): deflating a whole fleet's versions at once would stop the
//! fold (and every write waiting for it) for as long as that takes. The steps depend only
//! on the events, so every fold of one log settles alike. Chunks decoded for questions
//! about the past are given back under a budget ([`Versions::evict`]), least recently used first.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Bound;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// About this many entities share a chunk: small enough that a first look into the past
/// decodes a fraction of a millisecond, large enough to deflate well.
const CHUNK: usize = 64;
/// Entities one settling step looks at: a few microseconds, so that a step costs about
/// one chunk's deflating at most.
const STEP: usize = 1024;

type History<T> = Vec<(i64, T)>;

/// The clock of recent use for decoded chunks: it moves on with each eviction pass, and a
/// chunk read since is younger than one read before.
static TICK: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(bound(serialize = "K: Serialize, T: Serialize"))]
pub struct Versions<K, T> {
    /// Each entity's versions since it was last settled, and the one in force then.
    current: BTreeMap<K, History<T>>,
    /// Older versions, oldest segment first.
    settled: Vec<Segment<K, T>>,
    /// The settling under way, if one is: newer than every settled segment.
    settling: Option<Settling<K, T>>,
    /// The bytes of JSON decoded from chunks for questions about the past.
    #[serde(skip)]
    decoded: Meter,
}

/// A settling under way: the versions superseded before `position` of the entities up
/// to `after` have moved, into the chunks deflated so far and those still to fill one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize, T: Serialize", deserialize = "K: Deserialize<'de>, T: Deserialize<'de>"))]
struct Settling<K, T> {
    position: i64,
    after: Option<K>,
    moved: Vec<(K, History<T>)>,
    segment: Segment<K, T>,
}

/// A count that a copy starts afresh and that equality ignores: what is decoded is a
/// cache, not state.
#[derive(Debug, Default)]
struct Meter(AtomicUsize);

impl Clone for Meter {
    fn clone(&self) -> Self {
        Meter::default()
    }
}

impl PartialEq for Meter {
    fn eq(&self, _: &Self) -> bool {
        true
    }
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
            settling: Option<Settling<K, T>>,
        }
        let Stored { mut current, settled, settling } = Stored::deserialize(deserializer)?;
        current.values_mut().for_each(Vec::shrink_to_fit);
        Ok(Versions { current, settled, settling, decoded: Meter::default() })
    }
}

impl<K, T> Default for Versions<K, T> {
    fn default() -> Self {
        Versions { current: BTreeMap::new(), settled: vec![], settling: None, decoded: Meter::default() }
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
            // The settling under way holds versions newer than every settled segment's, and
            // each segment older than the next one's: the newest that has one in force at
            // `position` has the answer.
            _ => self
                .settling
                .iter()
                .filter_map(|s| s.versions(id, position, &self.decoded))
                .chain(self.settled.iter().rev().filter_map(|s| s.versions(id, position, &self.decoded)))
                .find_map(|versions| version_at(versions, position)),
        }
    }

    /// The positions of the events that made the entity's versions up to `position`.
    pub fn positions_at(&self, id: &K, position: i64) -> Vec<i64> {
        let settled = self.settled.iter().filter_map(|s| s.versions(id, position, &self.decoded)).flatten();
        let settling = self.settling.iter().filter_map(|s| s.versions(id, position, &self.decoded)).flatten();
        let current = self.current.get(id).into_iter().flatten();
        settled.chain(settling).chain(current).map(|(p, _)| *p).take_while(|p| *p <= position).collect()
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

    /// Moves every version superseded before `position` into a new settled segment at once.
    pub fn settle(&mut self, position: i64) {
        self.start_settling(position);
        while self.settling.is_some() {
            self.settle_step();
        }
    }

    /// How many versions are decoded for every question, and how many are settled.
    pub fn counts(&self) -> (usize, usize) {
        let current: usize = self.current.values().map(Vec::len).sum();
        let moving: usize = self.settling.iter().flat_map(|s| &s.moved).map(|(_, v)| v.len()).sum();
        let chunks = self.settled.iter().chain(self.settling.iter().map(|s| &s.segment)).flat_map(|s| &s.chunks);
        (current + moving, chunks.map(|c| c.versions).sum())
    }

    /// The settled segments, oldest first, and the one a settling under way is filling.
    fn segments(&self) -> impl Iterator<Item = &Segment<K, T>> {
        self.settled.iter().chain(self.settling.iter().map(|s| &s.segment))
    }
}

/// What a catalog does to the versions of every kind alike.
pub trait Settle {
    /// Starts moving every version superseded before `position` into a new settled
    /// segment (a settling still under way is finished first); each entity keeps decoded
    /// the version in force at `position` and those after it.
    fn start_settling(&mut self, position: i64);
    /// Moves a settling under way on: looks at up to [`STEP`] entities and deflates at
    /// most one chunk; the segment is settled when every entity has been looked at.
    fn settle_step(&mut self);
    /// Whether a settling is under way.
    fn settling(&self) -> bool;
    /// The bytes of JSON decoded from settled chunks for questions about the past.
    fn decoded_bytes(&self) -> usize;
    /// Every decoded chunk: when it was last read, its bytes, and where it is.
    fn decoded_chunks(&self) -> Vec<(u64, usize, ChunkAt)>;
    /// Gives back the decoded versions of these chunks; they decode again when next asked.
    fn evict(&mut self, chunks: &[ChunkAt]);
}

impl<K: Ord + Copy + Serialize + DeserializeOwned, T: Clone + Default + Serialize + DeserializeOwned> Settle
    for Versions<K, T>
{
    fn start_settling(&mut self, position: i64) {
        while self.settling.is_some() {
            self.settle_step();
        }
        self.settling = Some(Settling { position, after: None, moved: vec![], segment: Segment { chunks: vec![] } });
    }

    fn settle_step(&mut self) {
        let Versions { current, settled, settling, .. } = self;
        let Some(s) = settling else { return };
        let rest = match &s.after {
            Some(after) => current.range_mut((Bound::Excluded(*after), Bound::Unbounded)),
            None => current.range_mut(..),
        };
        let mut done = true;
        for (looked, (id, versions)) in rest.enumerate() {
            if looked == STEP || s.moved.len() == CHUNK {
                done = false;
                break;
            }
            s.after = Some(*id);
            let before = versions.partition_point(|(p, _)| *p < s.position);
            if before > 1 {
                let kept = versions.split_off(before - 1);
                s.moved.push((*id, std::mem::replace(versions, kept)));
            }
        }
        if s.moved.len() == CHUNK || (done && !s.moved.is_empty()) {
            s.segment.chunks.push(Chunk::of(&std::mem::take(&mut s.moved)));
        }
        if done {
            let segment = std::mem::replace(&mut s.segment, Segment { chunks: vec![] });
            *settling = None;
            if !segment.chunks.is_empty() {
                settled.push(segment);
            }
        }
    }

    fn settling(&self) -> bool {
        self.settling.is_some()
    }

    fn decoded_bytes(&self) -> usize {
        self.decoded.0.load(Ordering::Relaxed)
    }

    fn decoded_chunks(&self) -> Vec<(u64, usize, ChunkAt)> {
        self.segments()
            .enumerate()
            .flat_map(|(segment, s)| {
                s.chunks.iter().enumerate().filter_map(move |(chunk, c)| {
                    let bytes = c.decoded.get()?.bytes;
                    Some((c.used.load(Ordering::Relaxed), bytes, ChunkAt { segment, chunk }))
                })
            })
            .collect()
    }

    fn evict(&mut self, chunks: &[ChunkAt]) {
        let mut freed = 0;
        let mut segments: Vec<&mut Segment<K, T>> =
            self.settled.iter_mut().chain(self.settling.iter_mut().map(|s| &mut s.segment)).collect();
        for at in chunks {
            if let Some(chunk) = segments.get_mut(at.segment).and_then(|s| s.chunks.get_mut(at.chunk)) {
                freed += chunk.decoded.take().map_or(0, |d| d.bytes);
            }
        }
        self.decoded.0.fetch_sub(freed, Ordering::Relaxed);
    }
}

/// Where a chunk is among a [`Versions`]' segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkAt {
    segment: usize,
    chunk: usize,
}

/// Moves the clock of recent use on: chunks read from now on are younger than those read before.
pub fn tick() -> u64 {
    TICK.fetch_add(1, Ordering::Relaxed) + 1
}

impl<K: Ord + Copy + Serialize + DeserializeOwned, T: Serialize + DeserializeOwned> Settling<K, T> {
    /// The entity's versions moved so far by this settling, if any could be in force at `position`.
    fn versions<'a>(&'a self, id: &K, position: i64, decoded: &Meter) -> Option<&'a [(i64, T)]> {
        match self.moved.binary_search_by(|(k, _)| k.cmp(id)) {
            Ok(i) => {
                Some(&self.moved[i].1).filter(|v| v.first().is_some_and(|(p, _)| *p <= position)).map(Vec::as_slice)
            }
            Err(_) => self.segment.versions(id, position, decoded),
        }
    }
}

/// The versions moved out by one settling, in chunks of consecutive entities.
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
    decoded: OnceLock<Decoded<K, T>>,
    /// The [`TICK`] of its latest read.
    #[serde(skip)]
    used: AtomicU64,
}

/// A chunk's versions decoded, and the bytes of JSON they came from.
struct Decoded<K, T> {
    entities: Vec<(K, History<T>)>,
    bytes: usize,
}

/// A copy leaves the decoded versions behind: copies are taken to be written to a
/// snapshot, which stores the bytes only.
impl<K: Clone, T> Clone for Chunk<K, T> {
    fn clone(&self) -> Self {
        let Chunk { first, from, versions, deflated, decoded: _, used: _ } = self;
        Chunk {
            first: first.clone(),
            from: *from,
            versions: *versions,
            deflated: deflated.clone(),
            decoded: OnceLock::new(),
            used: AtomicU64::new(0),
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
    /// The entity's versions in this segment, if it has any that could be in force at
    /// `position`; decodes their chunk the first time (counted in `decoded`).
    fn versions(&self, id: &K, position: i64, decoded: &Meter) -> Option<&[(i64, T)]> {
        let chunk = &self.chunks[self.chunks.partition_point(|c| c.first <= *id).checked_sub(1)?];
        if chunk.from > position {
            return None;
        }
        let entities = &chunk
            .decoded
            .get_or_init(|| {
                let d = chunk.decode();
                decoded.0.fetch_add(d.bytes, Ordering::Relaxed);
                d
            })
            .entities;
        let now = TICK.load(Ordering::Relaxed);
        if chunk.used.load(Ordering::Relaxed) != now {
            chunk.used.store(now, Ordering::Relaxed);
        }
        let i = entities.binary_search_by(|(k, _)| k.cmp(id)).ok()?;
        Some(&entities[i].1)
    }
}

impl<K: Ord + Copy + Serialize + DeserializeOwned, T: Serialize + DeserializeOwned> Chunk<K, T> {
    /// A chunk of consecutive entities' versions (ordered by id, as the map they came from).
    fn of(entities: &[(K, History<T>)]) -> Chunk<K, T> {
        let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        serde_json::to_writer(&mut deflate, entities).expect("versions serialise");
        Chunk {
            first: entities[0].0,
            from: entities.iter().filter_map(|(_, v)| v.first()).map(|(p, _)| *p).min().unwrap_or(i64::MAX),
            versions: entities.iter().map(|(_, v)| v.len()).sum(),
            deflated: deflate.finish().expect("deflating into memory cannot fail"),
            decoded: OnceLock::new(),
            used: AtomicU64::new(0),
        }
    }

    fn decode(&self) -> Decoded<K, T> {
        let mut json = Vec::new();
        // These bytes were deflated from JSON by this process or came in a snapshot that
        // decoded; failing here would be a bug, not bad input.
        flate2::read::ZlibDecoder::new(&self.deflated[..]).read_to_end(&mut json).expect("a settled chunk inflates");
        Decoded { entities: serde_json::from_slice(&json).expect("a settled chunk decodes"), bytes: json.len() }
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
    use super::{CHUNK, STEP, Settle, Versions};

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

    /// 3,000 entities, each changed at positions 1 and 2, half of them at 3 as well.
    fn fleet() -> Versions<u16, Vec<String>> {
        let mut v: Versions<u16, Vec<String>> = Versions::default();
        for position in 1..=3i64 {
            for id in 0..3_000u16 {
                if position < 3 || id % 2 == 0 {
                    v.next(id, position).push(format!("{id}@{position}"));
                }
            }
        }
        v
    }

    #[test]
    fn a_settling_done_in_steps_between_new_versions_answers_as_one_done_at_once() {
        let mut at_once = fleet();
        let mut stepped = at_once.clone();
        at_once.settle(3);
        stepped.start_settling(3);
        let mut steps = 0;
        while stepped.settling.is_some() {
            let chunks = stepped.settling.as_ref().map_or(0, |s| s.segment.chunks.len());
            stepped.settle_step();
            // New versions arrive meanwhile, as events are folded.
            stepped.next(steps, 4 + i64::from(steps)).push("later".into());
            at_once.next(steps, 4 + i64::from(steps)).push("later".into());
            let after = stepped.settling.as_ref().map_or(chunks + 1, |s| s.segment.chunks.len());
            assert!(after <= chunks + 1, "a step deflates one chunk at most");
            steps += 1;
            for id in [0, 1, 1_500, 2_999] {
                for position in 1..=6 {
                    assert_eq!(stepped.get_at(&id, position), at_once.get_at(&id, position), "{id} at {position}");
                    assert_eq!(stepped.positions_at(&id, position), at_once.positions_at(&id, position));
                }
            }
        }
        // Every entity moved its first version: 47 chunks, each a step.
        assert_eq!(usize::from(steps), 3_000usize.div_ceil(CHUNK).max(3_000usize.div_ceil(STEP)));
        assert_eq!(stepped, at_once, "the same segments, the same versions");
        assert_eq!(stepped.counts(), at_once.counts());
    }

    #[test]
    fn decoded_chunks_are_given_back_least_recently_read_first_and_decode_again() {
        let mut v = fleet();
        v.settle(3);
        let json = serde_json::to_string(&v).unwrap();
        let mut v: Versions<u16, Vec<String>> = serde_json::from_str(&json).unwrap();
        assert_eq!(v.decoded_bytes(), 0, "a restart decodes no settled chunk");
        assert_eq!(v.get_at(&0, 1), Some(&vec!["0@1".to_owned()]));
        let one = v.decoded_bytes();
        assert!(one > 0);
        super::tick();
        assert_eq!(v.get_at(&2_998, 1), Some(&vec!["2998@1".to_owned()]));
        assert_eq!(v.decoded_chunks().len(), 2);
        let older = v.decoded_chunks().into_iter().min_by_key(|(used, ..)| *used).unwrap();
        v.evict(&[older.2]);
        assert_eq!(v.decoded_bytes(), v.decoded_chunks()[0].1, "the older chunk was given back");
        assert_eq!(v.get_at(&2_998, 2), Some(&vec!["2998@1".to_owned(), "2998@2".to_owned()]), "kept");
        assert_eq!(v.get_at(&0, 1), Some(&vec!["0@1".to_owned()]), "decoded again");
        let all: Vec<_> = v.decoded_chunks().into_iter().map(|(_, _, at)| at).collect();
        v.evict(&all);
        assert_eq!(v.decoded_bytes(), 0);
        assert_eq!(serde_json::to_string(&v).unwrap(), json, "evicting changes nothing stored");
    }
}

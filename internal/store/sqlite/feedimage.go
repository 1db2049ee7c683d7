package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"unsafe"

	"github.com/liaison-ent/liaison/internal/store"
)

// The feed image: what FeedParent reads of every parent, in memory.
//
// At 8:00 each of a million parents opens their feed once: every request
// is a first one, which no cache of recent parents can hold, and each cost
// one SQLite statement of five B-tree descents (the parent, their read
// states, their summary categories, their declarations). The image holds,
// for every parent, the rows that statement returns (feedParentQuery), in
// a form the garbage collector does not scan: one byte arena, in chunks,
// and an open-addressing table of integers. A parent's first request reads
// their rows there and decodes them with the code that decodes the
// statement's (feedRows), so that both answer the same.
//
// It is kept exact by the store's own writes: the embedded store has one
// process writing (the data directory's lock), and every method that
// writes what FeedParent reads (parents, read_states, parent_digest,
// parent_declarations) tells the image which parents it wrote, after its
// transaction (written). Their records leave the image at once (FeedParent
// reads them from the database until they are back), and a loader reads
// them again from the database in batches. A read started before the
// write may put the old record back: a record goes in only if no write to
// its parent came since the loader took it (pending); nor does a build
// put back a parent written while it ran (builtOver). Purging notices
// (their read states go with them, in every parent) starts the image
// again (reset, a new epoch: what the loader read before it does not go
// in).
//
// The image is built in the background when the store opens (about 10 s
// at 1,000,000 parents); until it is complete, a parent it does not hold is
// read from the database. Once complete, a parent it does not hold (nor
// is pending) is not synced: FeedParent answers without a query.
//
// Its size is bounded (imageLimit): past it, the parents it cannot hold are
// read from the database, as before. An erased parent's record is
// overwritten with zeros at once.
type feedImage struct {
	mu       sync.RWMutex
	seed     maphash.Seed
	ents     map[string]uint32 // ENT IDs, interned
	slots    []uint64          // 0: empty; else hash tag (24 bits) << 40 | ref+1
	count    int               // records in slots
	chunks   [][]byte
	live     int64                // bytes of records in the table
	garbage  int64                // bytes of records taken out
	pending  map[parentKey]uint64 // parents written since their record was read: the write's sequence number
	seq      uint64               // writes told so far
	epoch    uint64               // reset counts; a build of an older epoch stops
	complete bool                 // every parent of the database is in the image or pending
	building bool                 // a build runs
	over     bool                 // a record did not fit (imageLimit): not complete until a reset

	// builtOver: the parents written while a build runs (nil when none
	// runs). The build's rows of them may be older than the write, and
	// the loader may be done with them already (found them gone, or could
	// not put their new record): the build leaves them to the loader.
	builtOver map[parentKey]struct{}

	limit int64 // bytes of records at most

	kick   chan struct{} // wakes the loader
	ctx    context.Context
	cancel context.CancelFunc // stops the loader and any build (close)
	wg     sync.WaitGroup

	// load reads parents' rows from the database: the parents named
	// (keys of one ENT), or those after a parent ID (after, n). Set by
	// the store.
	loadKeys  func(ctx context.Context, entID string, users []string) ([]imageRecord, error)
	loadAfter func(ctx context.Context, after int64, n int) ([]imageRecord, int64, error)
}

type parentKey struct{ ent, user string }

// imageRecord is a parent's rows as feedParentQuery returns them.
type imageRecord struct {
	key  parentKey
	rows []byte // encoded by appendFeedRow
}

const (
	imageChunkBits = 22 // 4 MiB chunks
	imageChunk     = 1 << imageChunkBits
	imageRefBits   = 40
	imageMaxSlots  = 1 << 24 // the tag holds the home slot's index
	imageLoadBatch = 500     // parents per loader query
	imageBuildStep = 2000    // parents per build query
)

// imageCompactAt is how many bytes of taken-out records the arena keeps
// before its live records are copied into new chunks (also at least as
// many as the live ones), unless they take it past its bound (remove).
var imageCompactAt int64 = 32 << 20

// imageLimit is the default bound on the bytes of records the image holds
// (FeedImage): about 130 bytes a parent (the parent's row, their children,
// their read states), so 256 MiB holds about two million parents.
const imageLimit int64 = DefaultFeedImageMiB << 20

// DefaultFeedImageMiB is the feed image's default bound, in MiB.
const DefaultFeedImageMiB = 256

func newFeedImage() *feedImage {
	ctx, cancel := context.WithCancel(context.Background())
	return &feedImage{seed: maphash.MakeSeed(), ents: map[string]uint32{}, pending: map[parentKey]uint64{},
		limit: imageLimit, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// start runs the loader and a first build.
func (m *feedImage) start() {
	m.wg.Add(1)
	go m.loader()
	m.mu.Lock()
	m.startBuild()
	m.mu.Unlock()
}

// close stops the loader and any build, and waits for them.
func (m *feedImage) close() {
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	m.free()
	m.mu.Unlock()
}

// hash is a parent key's hash: the ENT's index mixed with the user ID's.
func (m *feedImage) hash(ent uint32, user string) uint64 {
	return maphash.String(m.seed, user) ^ (uint64(ent)+1)*0x9e3779b97f4a7c15
}

// home is a hash's slot: its top bits (the table's size is a power of
// two).
func (m *feedImage) home(h uint64) int {
	return int(h >> (64 - bits.TrailingZeros(uint(len(m.slots)))))
}

// find returns the slot of a key, or -1.
func (m *feedImage) find(ent uint32, user string) int {
	if len(m.slots) == 0 {
		return -1
	}
	h := m.hash(ent, user)
	tag := h >> imageRefBits
	mask := len(m.slots) - 1
	for i := m.home(h); ; i = (i + 1) & mask {
		s := m.slots[i]
		if s == 0 {
			return -1
		}
		if s>>imageRefBits == tag {
			e, u, _ := m.record(s)
			if e == ent && u == user {
				return i
			}
		}
	}
}

// record reads the record a slot points to: its ENT, user ID and rows
// (the user ID and rows alias the arena: copy what outlives the lock).
func (m *feedImage) record(slot uint64) (ent uint32, user string, rows []byte) {
	b, _ := m.bytes(slot)
	ent, user, rows = splitRecord(b)
	return
}

// bytes is the record a slot points to (without its length) and the
// bytes it takes.
func (m *feedImage) bytes(slot uint64) ([]byte, int) { return recordIn(m.chunks, slot) }

func recordIn(chunks [][]byte, slot uint64) ([]byte, int) {
	ref := slot&(1<<imageRefBits-1) - 1
	c := chunks[ref>>imageChunkBits]
	off := int(ref & (imageChunk - 1))
	n, k := binary.Uvarint(c[off:])
	return c[off+k : off+k+int(n)], k + int(n)
}

func splitRecord(b []byte) (ent uint32, user string, rows []byte) {
	e, k := binary.Uvarint(b)
	b = b[k:]
	n, k := binary.Uvarint(b)
	b = b[k:]
	return uint32(e), unsafeString(b[:n]), b[n:]
}

// unsafeString is b as a string without a copy: for comparisons and
// hashing under the lock only.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// put stores a record, replacing the key's; false when it does not fit.
func (m *feedImage) put(key parentKey, rows []byte) bool {
	ent, ok := m.ents[key.ent]
	if !ok {
		ent = uint32(len(m.ents))
		m.ents[key.ent] = ent
	}
	m.remove(ent, key.user)
	var hdr [3 * binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(ent))
	h += binary.PutUvarint(hdr[h:], uint64(len(key.user)))
	body := h + len(key.user) + len(rows)
	var lenb [binary.MaxVarintLen64]byte
	l := binary.PutUvarint(lenb[:], uint64(body))
	size := l + body
	if size > imageChunk || m.live+int64(size) > m.limit || (m.count+1)*10 > imageMaxSlots*7 {
		m.over = true
		m.complete = false
		return false
	}
	if (m.count+1)*10 > len(m.slots)*7 {
		m.grow()
	}
	last := len(m.chunks) - 1
	if last < 0 || len(m.chunks[last])+size > imageChunk {
		m.chunks = append(m.chunks, imageAlloc(imageChunk)[:0])
		last++
	}
	c := m.chunks[last]
	ref := uint64(last)<<imageChunkBits | uint64(len(c))
	c = append(c, lenb[:l]...)
	c = append(c, hdr[:h]...)
	c = append(c, key.user...)
	c = append(c, rows...)
	m.chunks[last] = c
	m.live += int64(size)
	m.insertSlot(m.hash(ent, key.user), ref)
	m.count++
	return true
}

func (m *feedImage) insertSlot(h, ref uint64) {
	mask := len(m.slots) - 1
	i := m.home(h)
	for m.slots[i] != 0 {
		i = (i + 1) & mask
	}
	m.slots[i] = h>>imageRefBits<<imageRefBits | (ref + 1)
}

// grow doubles the table.
func (m *feedImage) grow() {
	old := m.slots
	m.slots = newSlots(max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			ent, user, _ := m.record(s)
			m.insertSlot(m.hash(ent, user), s&(1<<imageRefBits-1)-1)
		}
	}
	freeSlots(old)
}

// newSlots is a table of n empty slots, outside the Go heap (imageAlloc).
func newSlots(n int) []uint64 {
	b := imageAlloc(8 * n)
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func freeSlots(s []uint64) {
	if len(s) > 0 {
		imageFree(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 8*len(s)))
	}
}

// remove takes a key's record out, overwriting it with zeros.
func (m *feedImage) remove(ent uint32, user string) {
	i := m.find(ent, user)
	if i < 0 {
		return
	}
	b, size := m.bytes(m.slots[i])
	clear(b)
	m.live -= int64(size)
	m.garbage += int64(size)
	m.count--
	// Backward-shift deletion: the records after i in its run move back
	// when i lies between their home slot and their slot.
	mask := len(m.slots) - 1
	for j := (i + 1) & mask; m.slots[j] != 0; j = (j + 1) & mask {
		h := m.home(m.slots[j] >> imageRefBits << imageRefBits)
		if (j-h)&mask >= (j-i)&mask {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = 0
	// The taken-out records count in the image's memory too: past its
	// bound, they go once they are a quarter of it (the arena stays
	// within 5/4 of the bound, and a compaction copies the live records
	// once per quarter of the bound written again).
	if m.garbage > imageCompactAt && m.garbage > m.live ||
		m.live+m.garbage > m.limit && m.garbage > m.limit/4 {
		m.compact()
	}
}

// compact copies the records into new chunks, leaving the taken-out ones.
func (m *feedImage) compact() {
	old := m.chunks
	m.chunks = nil
	var cur []byte
	for i, s := range m.slots {
		if s == 0 {
			continue
		}
		b, n := recordIn(old, s)
		if cur == nil || len(cur)+n > imageChunk {
			if cur != nil {
				m.chunks = append(m.chunks, cur)
			}
			cur = imageAlloc(imageChunk)[:0]
		}
		ref := uint64(len(m.chunks))<<imageChunkBits | uint64(len(cur))
		var lenb [binary.MaxVarintLen64]byte
		cur = append(cur, lenb[:binary.PutUvarint(lenb[:], uint64(len(b)))]...)
		cur = append(cur, b...)
		m.slots[i] = s>>imageRefBits<<imageRefBits | (ref + 1)
	}
	if cur != nil {
		m.chunks = append(m.chunks, cur)
	}
	for _, c := range old {
		imageFree(c)
	}
	m.garbage = 0
}

// read calls fn with a parent's rows when the image holds them (under the
// read lock: fn copies what it keeps); absent is true when the parent is
// known not to exist; neither: read the database.
func (m *feedImage) read(entID, user string, fn func(rows []byte) error) (found, absent bool, err error) {
	if m == nil {
		return false, false, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, ok := m.pending[parentKey{entID, user}]; ok {
		return false, false, nil
	}
	ent, ok := m.ents[entID]
	if ok {
		if i := m.find(ent, user); i >= 0 {
			_, _, rows := m.record(m.slots[i])
			return true, false, fn(rows)
		}
	}
	return false, m.complete, nil
}

// written tells the image that a transaction wrote these parents (of one
// ENT): their records leave it, and the loader reads them again.
func (m *feedImage) written(entID string, users ...string) {
	if m == nil || len(users) == 0 {
		return
	}
	m.mu.Lock()
	m.seq++
	ent, known := m.ents[entID]
	for _, u := range users {
		m.pending[parentKey{entID, u}] = m.seq
		if m.builtOver != nil {
			m.builtOver[parentKey{entID, u}] = struct{}{}
		}
		if known {
			m.remove(ent, u)
		}
	}
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// reset empties the image and builds it again (purged notices took their
// read states out of every parent).
func (m *feedImage) reset() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.free()
	m.startBuild()
}

// free gives the image's memory back: it is empty.
func (m *feedImage) free() {
	for _, c := range m.chunks {
		imageFree(c)
	}
	freeSlots(m.slots)
	m.chunks, m.slots = nil, nil
	m.count, m.live, m.garbage = 0, 0, 0
	m.over, m.complete = false, false
}

// startBuild starts a build of a new epoch (under the lock).
func (m *feedImage) startBuild() {
	m.epoch++
	m.complete, m.building = false, true
	m.builtOver = map[parentKey]struct{}{}
	epoch := m.epoch
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// A failed build leaves the image incomplete: FeedParent reads
		// the database.
		_ = m.build(m.ctx, epoch)
		m.mu.Lock()
		if m.epoch == epoch {
			m.building, m.builtOver = false, nil
		}
		m.mu.Unlock()
	}()
}

// build reads every parent into the image, in steps of parent IDs.
func (m *feedImage) build(ctx context.Context, epoch uint64) error {
	var after int64
	for {
		recs, last, err := m.loadAfter(ctx, after, imageBuildStep)
		if err != nil {
			return err
		}
		m.mu.Lock()
		if m.epoch != epoch {
			m.mu.Unlock()
			return nil
		}
		for _, r := range recs {
			// A parent written since is the loader's (pending, or
			// read again since: builtOver); one already in the image
			// was read there after its last write.
			if _, p := m.pending[r.key]; p {
				continue
			}
			if _, w := m.builtOver[r.key]; w {
				continue
			}
			if e, ok := m.ents[r.key.ent]; ok && m.find(e, r.key.user) >= 0 {
				continue
			}
			m.put(r.key, r.rows)
		}
		if len(recs) < imageBuildStep {
			m.complete = !m.over
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock()
		after = last
	}
}

// loader reads the parents written since their record was taken out, in
// batches of one ENT's parents.
func (m *feedImage) loader() {
	defer m.wg.Done()
	ctx := m.ctx
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
		}
		for {
			entID, users, seqs, epoch := m.takePending()
			if len(users) == 0 {
				break
			}
			recs, err := m.loadKeys(ctx, entID, users)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// The parents stay pending (read from the database)
				// until the next write wakes the loader.
				break
			}
			m.mu.Lock()
			if m.epoch != epoch {
				// The image started again since the read (reset:
				// purged notices took read states out of it): the
				// parents stay pending, read again.
				m.mu.Unlock()
				continue
			}
			byUser := make(map[string][]byte, len(recs))
			for _, r := range recs {
				byUser[r.key.user] = r.rows
			}
			for i, u := range users {
				k := parentKey{entID, u}
				if m.pending[k] != seqs[i] {
					continue // written again since: loaded again later
				}
				delete(m.pending, k)
				if rows, ok := byUser[u]; ok {
					m.put(k, rows) // false: too big for the image, read from the database
				}
			}
			m.mu.Unlock()
		}
	}
}

// takePending returns up to imageLoadBatch pending parents of one ENT,
// the sequence numbers of their last writes, and the image's epoch.
func (m *feedImage) takePending() (string, []string, []uint64, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var entID string
	var users []string
	var seqs []uint64
	for k, s := range m.pending {
		if entID == "" {
			entID = k.ent
		}
		if k.ent != entID {
			continue
		}
		users = append(users, k.user)
		seqs = append(seqs, s)
		if len(users) == imageLoadBatch {
			break
		}
	}
	return entID, users, seqs, m.epoch
}

// settled reports whether no build runs and no parent is pending (for
// tests), and whether the image is complete.
func (m *feedImage) settled() (settled, complete bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return !m.building && len(m.pending) == 0, m.complete
}

// errImageCorrupt is a record the image cannot decode (a bug: the image
// only holds what appendFeedRow wrote).
var errImageCorrupt = errors.New("store: feed image record unreadable")

// appendFeedRow appends one row of feedParentQuery: its kind, then its
// columns (a, and b, c, d which may be NULL).
func appendFeedRow(b []byte, r *feedRow) []byte {
	b = append(b, byte(r.kind))
	b = binary.AppendUvarint(b, uint64(len(r.a)))
	b = append(b, r.a...)
	for _, c := range [...]*sql.NullString{&r.b, &r.c, &r.d} {
		if !c.Valid {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(c.String))+1)
		b = append(b, c.String...)
	}
	return b
}

// nextFeedRow decodes the row at the start of b (its strings copied) and
// returns the rest.
func nextFeedRow(b []byte, r *feedRow) ([]byte, error) {
	if len(b) == 0 {
		return nil, errImageCorrupt
	}
	r.kind = int(b[0])
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, errImageCorrupt
	}
	r.a = strings.Clone(unsafeString(b[k : k+int(n)]))
	b = b[k+int(n):]
	for _, c := range [...]*sql.NullString{&r.b, &r.c, &r.d} {
		n, k := binary.Uvarint(b)
		if k <= 0 || (n > 0 && uint64(len(b)-k) < n-1) {
			return nil, errImageCorrupt
		}
		if n == 0 {
			*c = sql.NullString{}
		} else {
			*c = sql.NullString{String: strings.Clone(unsafeString(b[k : k+int(n)-1])), Valid: true}
		}
		b = b[k+max(0, int(n)-1):]
	}
	return b, nil
}

// imageParent decodes a parent's rows from the image.
func imageParent(entID, user string, rows []byte) (store.Parent, []store.ReadState, error) {
	d := newFeedRows(entID, user)
	var r feedRow
	var err error
	for len(rows) > 0 {
		if rows, err = nextFeedRow(rows, &r); err != nil {
			return d.p, nil, err
		}
		if err := d.add(&r); err != nil {
			return d.p, nil, err
		}
	}
	return d.done()
}

// The feed image's reads: the rows of a set of parents (parentRows, as
// FeedParent's statement reads one parent's), each led by its parent's ID
// and key.
var (
	imageRows = parentRows("p.id, p.ent_id, p.ent_user_id, ")
	// imageKeysQuery: the parents of ENT ?1 named in the JSON list ?2.
	imageKeysQuery = `WITH p AS MATERIALIZED (SELECT ` + parentColumns + ` FROM parents
	WHERE ent_id = ?1 AND ent_user_id IN (SELECT value FROM json_each(?2)))` + imageRows
	// imageAfterQuery: the ?2 parents after ID ?1.
	imageAfterQuery = `WITH p AS MATERIALIZED (SELECT ` + parentColumns + ` FROM parents
	WHERE id > ?1 ORDER BY id LIMIT ?2)` + imageRows
)

// openImage makes the store's feed image and starts building it.
func (s *Store) openImage(limit int64) {
	s.img = newFeedImage()
	s.img.limit = limit
	s.img.loadKeys = func(ctx context.Context, entID string, users []string) ([]imageRecord, error) {
		recs, _, err := s.imageRows(ctx, imageKeysQuery, entID, fromList(users))
		return recs, err
	}
	s.img.loadAfter = func(ctx context.Context, after int64, n int) ([]imageRecord, int64, error) {
		return s.imageRows(ctx, imageAfterQuery, after, n)
	}
	s.img.start()
}

// imageRows reads parents' rows for the image, and the highest parent ID
// read.
func (s *Store) imageRows(ctx context.Context, query string, args ...any) ([]imageRecord, int64, error) {
	rows, err := s.queryStmt(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var recs []imageRecord
	at := map[int64]int{}
	var last, id int64
	var key parentKey
	var r feedRow
	for rows.Next() {
		if err := rows.Scan(&id, &key.ent, &key.user, &r.kind, &r.a, &r.b, &r.c, &r.d); err != nil {
			return nil, 0, err
		}
		i, ok := at[id]
		if !ok {
			i = len(recs)
			at[id] = i
			recs = append(recs, imageRecord{key: key})
		}
		recs[i].rows = appendFeedRow(recs[i].rows, &r)
		last = max(last, id)
	}
	return recs, last, rows.Err()
}

// ParentsInMemory reports whether the store keeps a feed image
// (store.ParentsInMemory).
func (s *Store) ParentsInMemory() bool { return s.img != nil }

// FeedImageStats is the feed image's state, for /metrics.
type FeedImageStats struct {
	Parents  int   // parents held
	Bytes    int64 // memory it takes: arena chunks and table
	Pending  int   // parents written, waiting to be read again
	Complete bool  // every parent is held (or pending): a first request reads no page
}

// FeedImageStats says what the feed image holds; false: the store has
// none (LIAISON_FEED_IMAGE_MIB=0).
func (s *Store) FeedImageStats() (FeedImageStats, bool) {
	m := s.img
	if m == nil {
		return FeedImageStats{}, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := FeedImageStats{Parents: m.count, Bytes: int64(8 * len(m.slots)), Pending: len(m.pending), Complete: m.complete}
	for _, c := range m.chunks {
		st.Bytes += int64(cap(c))
	}
	return st, true
}

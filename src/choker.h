/*
 * choker: decides which peers we upload to (BitTorrent choking). It sees the
 * swarm only as an array of struct choker_peer that the caller fills each
 * round; it never touches a socket or a clock, and keeps only the identity
 * of the optimistic peer and a random generator between rounds.
 *
 * The caller runs choker_run() every CHOKER_ROUND_MS (and may run it early,
 * e.g. when the unchoked set lost a peer), then unchokes the peers it names
 * and chokes every other one. Per round at most `slots` regular unchokes plus
 * one optimistic unchoke are handed out, and only to interested peers; a
 * peer that claims to be a seed is never unchoked (it wants nothing).
 *
 * Regular slots while leeching (tit-for-tat): interested peers that are not
 * snubbed, fastest down_rate (what they give us) first. A snubbed peer loses
 * its regular slot at once, but may still be the optimistic peer.
 *
 * A holder is a peer we unchoke now (p->unchoked) other than the optimistic
 * one, i.e. a peer in a regular slot since last round.
 *
 * Regular slots while seeding (down_rate and snubbed are ignored): a turn
 * lasts CHOKER_SEED_TURN_MS from since_ms. Ranked in this order, the first
 * `slots` win:
 *  1. holders whose turn is still running, fastest up_rate first;
 *  2. the others, longest waiting first (oldest since_ms; the optimistic
 *     peer is being served, so it counts as having waited 0);
 *  3. holders whose turn is over, fastest up_rate first.
 * So a holder yields only when someone is waiting, the slowest-served
 * holders yield first, and with P interested peers and S slots nobody waits
 * much more than (P / S) turns: every interested peer gets served.
 *
 * Stability while leeching: a holder is ranked as if it were faster by
 * max(rate / CHOKER_KEEP_DIV, CHOKER_KEEP_MIN) bytes/s, so a newcomer takes
 * its slot only when it is both 25% and CHOKER_KEEP_MIN bytes/s faster;
 * jitter in measured rates does not make slots flap. Equal ranks are broken
 * at random.
 *
 * Optimistic unchoke: an interested peer without a regular slot, kept for
 * CHOKER_OPTIMISTIC_MS, then replaced by a new random choice among the
 * others (a peer connected less than CHOKER_NEW_PEER_MS ago is
 * CHOKER_NEW_PEER_WEIGHT times as likely). It is replaced early when it
 * leaves, loses interest or wins a regular slot; its time is not reset by a
 * rerun.
 *
 * Cost: O(n log n) per round (one sort of the candidates); no allocation
 * once the scratch array has grown to the swarm size.
 */
#ifndef PIECES_CHOKER_H
#define PIECES_CHOKER_H

#include <stddef.h>
#include <stdint.h>

#define CHOKER_DEFAULT_SLOTS   4
#define CHOKER_MAX_SLOTS       1024
#define CHOKER_MAX_PEERS       (1u << 20)
#define CHOKER_ROUND_MS	       10000u
#define CHOKER_OPTIMISTIC_MS   30000u /* 3 rounds */
#define CHOKER_SEED_TURN_MS    30000u /* 3 rounds */
#define CHOKER_NEW_PEER_MS     60000u
#define CHOKER_NEW_PEER_WEIGHT 3u
#define CHOKER_KEEP_DIV	       4u
#define CHOKER_KEEP_MIN	       2048u /* bytes/s */

/* One peer as the caller sees it at the start of a round. */
struct choker_peer {
	void *id;	       /* the caller's handle, unique and non-NULL; never dereferenced */
	uint64_t down_rate;    /* bytes/s it sends us */
	uint64_t up_rate;      /* bytes/s we send it */
	uint64_t connected_ms; /* when it connected */
	uint64_t since_ms;     /* when we last choked or unchoked it; connected_ms if never */
	int interested;	       /* it wants data from us */
	int is_seed;	       /* it has every piece */
	int snubbed;	       /* we want its data but it has sent none for long */
	int unchoked;	       /* we are not choking it now (regular or optimistic) */
};

struct choker;

/* NULL on no memory. slots is clamped to CHOKER_MAX_SLOTS; seed makes the random choices
 * repeatable. */
struct choker *choker_new(unsigned slots, uint64_t seed);
void choker_free(struct choker *ch);

/* Takes effect at the next round; clamped to CHOKER_MAX_SLOTS. 0 leaves only the optimistic
 * unchoke. */
void choker_set_slots(struct choker *ch, unsigned slots);
unsigned choker_slots(const struct choker *ch);

/*
 * One round over peers[0..n-1] at now_ms; seeding nonzero when we have every
 * piece we want. Writes the indices of the peers to unchoke into out (room
 * for choker_slots() + 1 entries): regular slots first, the optimistic peer,
 * if any, last. Returns how many, or -ERR_LIMIT (n > CHOKER_MAX_PEERS) or
 * -ERR_NOMEM, in which case nothing changed.
 */
int choker_run(struct choker *ch, const struct choker_peer *peers, size_t n, uint64_t now_ms,
	       int seeding, size_t *out);

/* The id of the optimistic peer chosen by the last round, or NULL. */
void *choker_optimistic(const struct choker *ch);

#endif

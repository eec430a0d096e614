/*
 * sl-bridge glue for OpenAirInterface's NR sidelink PDCP (EpiSci sl-release-1.0): sends the SDUs
 * and PDUs of the SL data radio bearers through the sl-bridge daemon, which protects and verifies
 * them (TS 33.303 one-to-many security, docs/protocol.md), instead of OAI's own PDCP processing
 * (whose ciphering and integrity are hard-wired off for sidelink in add_drb_sl()).
 *
 * Lives in OAI's tree as openair2/LAYER2/nr_pdcp/sl_bridge/ (copied there by sl-bridge's
 * interop/oai-sl/build.sh, with the stack shim sl_bridge_shim.{c,h}, its framed link slb_link.{c,h}
 * and the protoc-c output for proto/bridge.proto); interop/oai-sl/patches/0002-sl-bridge-pdcp.patch
 * calls the hooks below.
 *
 * Off unless SLB_STACK_ENDPOINT is set in the environment: then every hook returns 0 and OAI
 * behaves exactly as without the patch. Environment (read once, at the first SL DRB):
 *   SLB_STACK_ENDPOINT   the daemon's stack endpoint (hw-profile oai-nr-sl-zmq: tcp://127.0.0.1:5570);
 *                        the stack shim connects a DEALER there (PduEnvelope frames)
 *   SLB_APP_ENDPOINT     the daemon's application endpoint (required with SLB_STACK_ENDPOINT); a
 *                        DEALER connects there (AppToDaemon / DaemonToApp frames)
 *   SLB_GROUP_ID         the 24-bit Group ID the SL DRB's IP traffic is sent to (hex, 0x optional)
 *   SLB_MAX_PDU_BYTES    largest protected PDU (default 9015, hw-profile pdu.max_bytes)
 *   SLB_STATS_INTERVAL_S seconds between counter lines (default 10; 0: only at exit)
 * A bad value stops nr-uesoftmodem at start (exit 1) rather than running the bearer unprotected.
 *
 * Data path with the glue on (for the SL DRBs registered by add_drb_sl only):
 *   TX  TUN -> SDAP -> nr_pdcp_data_req_drb -> [hook] SendSdu{SLB_GROUP_ID, IP, sdu} to the daemon;
 *       daemon -> PduEnvelope{src = GMI, dst = group} on the shim -> [6-octet L2 prefix] + PDU
 *       -> the entity's deliver_pdu (enqueue_rlc_data_req, PC5) -> SL RLC/MAC.
 *   RX  SL RLC -> pdcp_data_ind -> (PDCP data-ind thread) -> [hook] strip the prefix ->
 *       slb_shim_send(src, dst, GROUPCAST, pdu) to the daemon; the daemon's Delivery (IP, this
 *       group) -> the entity's deliver_sdu under the PDCP lock (SDAP -> TUN write).
 *
 * Departure (documented in the patch and interop/oai-sl/README.md): this OAI branch's SL MAC sends
 * with its own configured source ID (srcid in the .conf) and does not hand L2 IDs up to PDCP,
 * while sl-bridge needs the sender's Group Member ID as L2 source (TS 33.303: L2 source = GMI;
 * the PTK is derived from it) and the Group ID as destination. So each RLC SDU on the air is
 *   [L2 source, 24 bits big-endian][L2 destination, 24 bits big-endian][sl-bridge PDCP PDU]
 * i.e. the L2 IDs travel in 6 extra octets in front of the PDU instead of in the SCI/MAC header.
 *
 * Threads: the hooks never block on the network (bounded queues, drop and count). The shim's and
 * the application client's I/O threads call back into OAI (RLC queue, SDAP/TUN), as OAI's own
 * PDCP threads do.
 */
#ifndef SL_BRIDGE_GLUE_H
#define SL_BRIDGE_GLUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Octets in front of every sl-bridge PDU in an SL RLC SDU: 24-bit L2 source + 24-bit L2 destination. */
#define SL_BRIDGE_L2_PREFIX_BYTES 6

#ifdef SL_BRIDGE_GLUE /* defined for the targets that link the glue (NR_L2_UE, see CMakeLists.txt) */

/* add_drb_sl(): an SL DRB (ue_id = the UE's srcid, rb_id = slrb id) was configured. Reads the
 * environment and starts the glue on the first call. has_sdap: the bearer carries SDAP headers
 * (not supported with the glue on: fatal, the SL pre-configuration of this branch has none). */
void sl_bridge_glue_add_drb(uint64_t ue_id, int rb_id, int has_sdap);

/* nr_pdcp_data_req_drb(): 1 when (ue_id, rb_id) is an SL DRB of the glue and the SDU was taken
 * (sent to the daemon, or dropped and counted); 0: OAI processes it as usual. */
int sl_bridge_glue_tx_sdu(uint64_t ue_id, int rb_id, const uint8_t *sdu, int size);

/* do_pdcp_data_ind(): 1 when (ue_id, rb_id) is an SL DRB of the glue and the RLC SDU was taken
 * (sent to the daemon, or dropped and counted; the caller still frees its buffer); 0: as usual. */
int sl_bridge_glue_rx_pdu(uint64_t ue_id, int rb_id, const uint8_t *buf, int size);

#else /* other targets compiling nr_pdcp_oai_api.c (gNB, CU-UP): the hooks do nothing */

static inline void sl_bridge_glue_add_drb(uint64_t ue_id, int rb_id, int has_sdap) { (void)ue_id; (void)rb_id; (void)has_sdap; }
static inline int sl_bridge_glue_tx_sdu(uint64_t ue_id, int rb_id, const uint8_t *sdu, int size) { (void)ue_id; (void)rb_id; (void)sdu; (void)size; return 0; }
static inline int sl_bridge_glue_rx_pdu(uint64_t ue_id, int rb_id, const uint8_t *buf, int size) { (void)ue_id; (void)rb_id; (void)buf; (void)size; return 0; }

#endif

/* Implemented in nr_pdcp_oai_api.c (the patch) for the glue: they do for (ue_id, rb_id) what OAI
 * does after its own PDCP processing, with OAI's locking. */
/* Hands a PDU to RLC through the entity's deliver_pdu (deliver_pdu_drb: enqueue_rlc_data_req, PC5).
 * 0 if there is no such DRB. */
int nr_pdcp_sl_bridge_deliver_pdu(uint64_t ue_id, int rb_id, uint8_t *buf, int size);
/* Hands an SDU up through the entity's deliver_sdu (deliver_sdu_drb: SDAP -> TUN), holding the
 * PDCP manager lock as the PDCP receive path does. 0 if there is no such DRB. */
int nr_pdcp_sl_bridge_deliver_sdu(uint64_t ue_id, int rb_id, uint8_t *buf, int size);

#ifdef __cplusplus
}
#endif

#endif /* SL_BRIDGE_GLUE_H */

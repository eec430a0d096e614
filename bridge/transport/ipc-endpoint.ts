/**
 * Before a ZeroMQ socket binds `ipc:///PATH`: libzmq's bind unlinks whatever is at PATH and binds
 * anew, so a second daemon given a live daemon's endpoint silently takes it over (the first one
 * stays up but unreachable), and an endpoint naming an ordinary file deletes that file.
 * `checkIpcBindable` refuses both: if PATH exists it must be a socket, and a connection to it
 * must be refused (ECONNREFUSED: a stale socket file of a process that died, which is removed
 * before the bind). A socket that accepts is in use.
 *
 * Two processes that check the same free path at the same instant can still both bind (the
 * check and the bind are two steps); the check is for the common mistake, not a lock.
 * Abstract socket names (`ipc://@name`) are not files: their bind fails with EADDRINUSE by itself.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { TransportError } from './types.js';

/** How long a connection attempt to an existing socket file may take before it counts as in use. */
const PROBE_TIMEOUT_MS = 2000;

function probe(path: string): Promise<'accepted' | 'refused' | 'gone' | string> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (outcome: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('accepted'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('accepted'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') done('refused');
      else if (e.code === 'ENOENT') done('gone');
      // EAGAIN: the listener's backlog is full, so something is listening.
      else if (e.code === 'EAGAIN') done('accepted');
      else done(e.code ?? e.message);
    });
  });
}

/** Throws a TransportError (code `EENDPOINT`) if binding `endpoint` would take over a live socket or delete a file. */
export async function checkIpcBindable(endpoint: string): Promise<void> {
  if (!endpoint.startsWith('ipc://')) return;
  const path = endpoint.slice('ipc://'.length);
  if (path.startsWith('@') || path === '*' || path === '') return;
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there (or not reachable: the bind reports that)
  }
  if (!isSocket) throw new TransportError('EENDPOINT', `cannot bind ${endpoint}: ${path} exists and is not a socket (binding would delete it)`);
  const outcome = await probe(path);
  if (outcome === 'accepted') {
    throw new TransportError('EENDPOINT', `cannot bind ${endpoint}: in use (another process accepts connections on ${path}: is a second daemon or medium configured with this endpoint?)`);
  }
  if (outcome !== 'refused' && outcome !== 'gone') {
    throw new TransportError('EENDPOINT', `cannot bind ${endpoint}: cannot tell whether ${path} is in use (${outcome})`);
  }
  // Stale: its process is gone. Removed here rather than left to libzmq's bind, which does the same.
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

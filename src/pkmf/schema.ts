/**
 * proto/pkmf.proto as a protobufjs JSON descriptor, so the codec needs no file access at run time.
 * test/unit/pkmf-codec.test.ts parses the .proto file and checks it equals this descriptor: edit both.
 */
import protobuf from 'protobufjs';
import { ErrorCode } from './errors.js';

const u32 = (id: number) => ({ type: 'uint32', id });
const rep = (type: string, id: number) => ({ rule: 'repeated', type, id });

export const PKMF_PROTO_DESCRIPTOR = {
  nested: {
    slbridge: {
      nested: {
        pkmf: {
          nested: {
            v1: {
              nested: {
                ErrorCode: {
                  // The proto names code 0 ERROR_NONE (proto3 enum prefixes); the rest as in errors.ts.
                  values: Object.fromEntries(Object.entries(ErrorCode).map(([name, code]) => [code === 0 ? 'ERROR_NONE' : name, code])),
                },
                HierarchyProfile: {
                  values: { PROFILE_PCR: 0, PROFILE_TS33533: 1, PROFILE_LTE_PROSE: 2 },
                },
                GroupRequest: {
                  oneofs: { _heldGmi: { oneof: ['heldGmi'] } },
                  fields: {
                    groupId: u32(1),
                    supportedNea: rep('uint32', 2),
                    supportedNia: rep('uint32', 3),
                    heldGmi: { type: 'uint32', id: 4, options: { proto3_optional: true } },
                  },
                },
                KeyRequest: {
                  fields: {
                    transactionId: u32(1),
                    groups: rep('GroupRequest', 2),
                    homePlmn: { type: 'string', id: 3 },
                  },
                },
                Pgk: {
                  fields: {
                    pgkId: u32(1),
                    pgk: { type: 'bytes', id: 2 },
                    expiresAtMs: { type: 'uint64', id: 3 },
                    activeFromMs: { type: 'uint64', id: 4 },
                  },
                },
                AlgorithmInfo: {
                  oneofs: { _nia: { oneof: ['nia'] } },
                  fields: {
                    nea: u32(1),
                    nia: { type: 'uint32', id: 2, options: { proto3_optional: true } },
                    profile: { type: 'HierarchyProfile', id: 3 },
                    allowNullAlgorithms: { type: 'bool', id: 4 },
                  },
                },
                GroupKeyResult: {
                  fields: {
                    groupId: u32(1),
                    error: { type: 'ErrorCode', id: 2 },
                    gmi: u32(3),
                    algorithms: { type: 'AlgorithmInfo', id: 4 },
                    pgks: rep('Pgk', 5),
                    renewAfterMs: { type: 'uint64', id: 6 },
                  },
                },
                KeyResponse: {
                  fields: {
                    transactionId: u32(1),
                    error: { type: 'ErrorCode', id: 2 },
                    groups: rep('GroupKeyResult', 3),
                    servingPlmn: { type: 'string', id: 4 },
                  },
                },
                ConnectionError: {
                  fields: { code: { type: 'ErrorCode', id: 1 }, message: { type: 'string', id: 2 } },
                },
                ClientFrame: {
                  oneofs: { body: { oneof: ['keyRequest'] } },
                  fields: { keyRequest: { type: 'KeyRequest', id: 1 } },
                },
                ServerFrame: {
                  oneofs: { body: { oneof: ['keyResponse', 'connectionError'] } },
                  fields: {
                    keyResponse: { type: 'KeyResponse', id: 1 },
                    connectionError: { type: 'ConnectionError', id: 2 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const root = protobuf.Root.fromJSON(PKMF_PROTO_DESCRIPTOR as unknown as protobuf.INamespace);

export const ClientFrameType = root.lookupType('slbridge.pkmf.v1.ClientFrame');
export const ServerFrameType = root.lookupType('slbridge.pkmf.v1.ServerFrame');

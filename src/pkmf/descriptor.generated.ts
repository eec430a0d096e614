// Generated from proto/pkmf.proto by scripts/gen-proto-descriptors.mjs: edit the .proto, then run
// `npm run proto:gen` (or `npm run build`).
export const PKMF_PROTO_DESCRIPTOR = {
  "nested": {
    "slbridge": {
      "nested": {
        "pkmf": {
          "nested": {
            "v1": {
              "nested": {
                "ErrorCode": {
                  "values": {
                    "ERROR_NONE": 0,
                    "UNKNOWN_GROUP": 1,
                    "NOT_A_MEMBER": 2,
                    "NO_ROAMING_AGREEMENT": 3,
                    "HOME_NETWORK_UNREACHABLE": 4,
                    "MALFORMED_REQUEST": 5,
                    "NO_OPERATOR_AGREEMENT": 6,
                    "OWNER_NETWORK_UNREACHABLE": 7,
                    "ALGORITHM_NOT_SUPPORTED": 8,
                    "FRAME_TOO_LARGE": 9,
                    "INTERNAL_ERROR": 10,
                    "IDENTITY_REJECTED": 11,
                    "RATE_LIMITED": 12
                  }
                },
                "HierarchyProfile": {
                  "values": {
                    "PROFILE_PCR": 0,
                    "PROFILE_TS33533": 1,
                    "PROFILE_LTE_PROSE": 2
                  }
                },
                "SourceAuth": {
                  "values": {
                    "SOURCE_AUTH_NONE": 0,
                    "SOURCE_AUTH_PAIRWISE_MAC": 1,
                    "SOURCE_AUTH_SIGNATURE": 2
                  }
                },
                "GroupRequest": {
                  "oneofs": {
                    "_heldGmi": {
                      "oneof": [
                        "heldGmi"
                      ]
                    }
                  },
                  "fields": {
                    "groupId": {
                      "type": "uint32",
                      "id": 1
                    },
                    "supportedNea": {
                      "rule": "repeated",
                      "type": "uint32",
                      "id": 2
                    },
                    "supportedNia": {
                      "rule": "repeated",
                      "type": "uint32",
                      "id": 3
                    },
                    "heldGmi": {
                      "type": "uint32",
                      "id": 4,
                      "options": {
                        "proto3_optional": true
                      }
                    },
                    "signingPublicKey": {
                      "type": "bytes",
                      "id": 5
                    }
                  }
                },
                "KeyRequest": {
                  "fields": {
                    "transactionId": {
                      "type": "uint32",
                      "id": 1
                    },
                    "groups": {
                      "rule": "repeated",
                      "type": "GroupRequest",
                      "id": 2
                    },
                    "homePlmn": {
                      "type": "string",
                      "id": 3
                    }
                  }
                },
                "Pgk": {
                  "fields": {
                    "pgkId": {
                      "type": "uint32",
                      "id": 1
                    },
                    "pgk": {
                      "type": "bytes",
                      "id": 2
                    },
                    "expiresAtMs": {
                      "type": "uint64",
                      "id": 3
                    },
                    "activeFromMs": {
                      "type": "uint64",
                      "id": 4
                    },
                    "pairwiseKeys": {
                      "rule": "repeated",
                      "type": "PairwiseKey",
                      "id": 5
                    }
                  }
                },
                "PairwiseKey": {
                  "fields": {
                    "peerGmi": {
                      "type": "uint32",
                      "id": 1
                    },
                    "key": {
                      "type": "bytes",
                      "id": 2
                    }
                  }
                },
                "MemberKey": {
                  "fields": {
                    "gmi": {
                      "type": "uint32",
                      "id": 1
                    },
                    "publicKey": {
                      "type": "bytes",
                      "id": 2
                    }
                  }
                },
                "AlgorithmInfo": {
                  "oneofs": {
                    "_nia": {
                      "oneof": [
                        "nia"
                      ]
                    }
                  },
                  "fields": {
                    "nea": {
                      "type": "uint32",
                      "id": 1
                    },
                    "nia": {
                      "type": "uint32",
                      "id": 2,
                      "options": {
                        "proto3_optional": true
                      }
                    },
                    "profile": {
                      "type": "HierarchyProfile",
                      "id": 3
                    },
                    "allowNullAlgorithms": {
                      "type": "bool",
                      "id": 4
                    },
                    "sourceAuth": {
                      "type": "SourceAuth",
                      "id": 5
                    }
                  }
                },
                "GroupKeyResult": {
                  "fields": {
                    "groupId": {
                      "type": "uint32",
                      "id": 1
                    },
                    "error": {
                      "type": "ErrorCode",
                      "id": 2
                    },
                    "gmi": {
                      "type": "uint32",
                      "id": 3
                    },
                    "algorithms": {
                      "type": "AlgorithmInfo",
                      "id": 4
                    },
                    "pgks": {
                      "rule": "repeated",
                      "type": "Pgk",
                      "id": 5
                    },
                    "renewAfterMs": {
                      "type": "uint64",
                      "id": 6
                    },
                    "memberKeys": {
                      "rule": "repeated",
                      "type": "MemberKey",
                      "id": 7
                    },
                    "pendingMembers": {
                      "type": "uint32",
                      "id": 8
                    }
                  }
                },
                "KeyResponse": {
                  "fields": {
                    "transactionId": {
                      "type": "uint32",
                      "id": 1
                    },
                    "error": {
                      "type": "ErrorCode",
                      "id": 2
                    },
                    "groups": {
                      "rule": "repeated",
                      "type": "GroupKeyResult",
                      "id": 3
                    },
                    "servingPlmn": {
                      "type": "string",
                      "id": 4
                    }
                  }
                },
                "ConnectionError": {
                  "fields": {
                    "code": {
                      "type": "ErrorCode",
                      "id": 1
                    },
                    "message": {
                      "type": "string",
                      "id": 2
                    }
                  }
                },
                "ClientFrame": {
                  "oneofs": {
                    "body": {
                      "oneof": [
                        "keyRequest"
                      ]
                    }
                  },
                  "fields": {
                    "keyRequest": {
                      "type": "KeyRequest",
                      "id": 1
                    }
                  }
                },
                "ServerFrame": {
                  "oneofs": {
                    "body": {
                      "oneof": [
                        "keyResponse",
                        "connectionError"
                      ]
                    }
                  },
                  "fields": {
                    "keyResponse": {
                      "type": "KeyResponse",
                      "id": 1
                    },
                    "connectionError": {
                      "type": "ConnectionError",
                      "id": 2
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
} as const;

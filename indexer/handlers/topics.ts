/**
 * topic0 of every event the indexer reads: keccak256 of the event's signature, written out so the
 * indexer does not load an ABI library at start-up (a test checks each against the contracts' ABIs).
 */
export const topics = {
  organizationCreated: '0x8d9e2931abba1cab271e9db65e3ba1588deefb148cae3f134ea5ffc205288afa',
  productCreated: '0xc944fa6bd48094764e77298557e7c9178905fb16d7b00014e250401165b29ff4',
  creatorRegistered: '0x3d3be5c28f4a7839b101f916595763adc69db15edf64a042ac59fd3aed47872c',
  organizationExpenditure: '0xbfff25e273b901e011ab3f35be1ec918e60a6bad19a9469c0dcd16972bc9d638',
  creatorPaid: '0xd90350c93cbf71b5ed44b3d585220ac9a829eb7fc0925039255d16e0f906f9b5',
  modelFeePaid: '0xfe151cb456bdd91d89961c390d6eebb1ed6ab4a4cb2f48ee891bd23e8b4b82cd',
  usageSettled: '0x38cef995ea7c0c1bc248c8a0940fac43c53ff49a047dc679fb5bfa4f26ebb320',
  productEnabled: '0x9b85c09035d0827153a42459e53a84545547ed2b00aba631cae19a688cf31731',
  productDisabled: '0x66028e54d6bb65b99272b48f96c5c2d5eb197b040f4632b7a867b5e8fdb1713d',
  ownershipTransferred: '0x8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0',
  productPriceUpdated: '0x2632f9f215a9d4e060233752c6b3601cb9bf0075be4af3f004dc9f4742eaf1f3',
  fundsWithdrawn: '0xf440aec6b52895984d061d622e6edeba6210f7c3e059be920663140c084560d7',
  transfer: '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef',
} as const

/** Events emitted by factory children (organizations, products): fetched by topic, any address. */
export const childTopics = [topics.productEnabled, topics.productDisabled, topics.ownershipTransferred, topics.productPriceUpdated]

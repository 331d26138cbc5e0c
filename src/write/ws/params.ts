/** The params of each method (named, in an object), checked with zod. */
import { z } from 'zod'
import { address, signature, uuid as nonce } from '../http/inputs.js'

/** `org-<address without 0x>` or the 0x address. */
const organization = z
  .string({ error: 'must be org-<organization address without 0x> or its 0x address' })
  .trim()
  .regex(/^(?:org-|0x)[0-9a-fA-F]{40}$/, 'must be org-<organization address without 0x> or its 0x address')

export const fetchNonceParams = z.object({ address }).strict()

/** Either a signature (of the nonce, or of a SIWE message carrying it) or a credential. */
export const authenticateParams = z
  .object({
    address: address.optional(),
    signature: signature.optional(),
    nonce: nonce.optional(),
    message: z.string().max(8192, 'is too long').optional(),
    token: z.string().trim().min(1, 'must not be empty').max(4096, 'is too long').optional(),
  })
  .strict()
  .refine((p) => (p.token === undefined) !== (p.signature === undefined), {
    message: 'give either signature (with address and nonce, or a SIWE message) or token (a session token or an sk- API key)',
  })
  .refine((p) => p.token === undefined || (p.address === undefined && p.nonce === undefined && p.message === undefined), {
    message: 'token goes alone: address, nonce and message belong to a signature',
  })

export const chatParams = z
  .object({
    organization: organization.optional(),
    /** `proj-<project uid>`; checked with the organization when the call is resolved. */
    project: z.string().trim().min(1, 'must be proj-<project uid>').max(80, 'is too long').optional(),
    /** The conversation memory is kept under (the `Haithe-Conversation` header over HTTP). */
    conversation: z.string().trim().min(1, 'must not be empty').max(200, 'is too long').optional(),
    /** The body of POST /chat/completions. */
    request: z.record(z.string(), z.unknown(), { error: 'must be a chat completion request object (the body of POST /chat/completions)' }),
  })
  .strict()

export const subscribeParams = z.object({ organization }).strict()

export const unsubscribeParams = z.object({ subscription: z.string({ error: 'is required' }).min(1, 'is required').max(100, 'is too long') }).strict()

export { createProductLoader, parsePromptset, type AppliedProduct, type ProductLoader, type SkippedProduct } from './load-products.js'
export { ProductUnavailableError } from './errors.js'
export { decryptProductContent, isOpenPgpMessage } from './decrypt.js'
export { fetchUri, ipfsGatewayUrl } from './fetch-uri.js'

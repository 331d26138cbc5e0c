/** A product whose content cannot be used as its kind says; the message names the product and the problem. */
export class ProductContentError extends Error {
  override readonly name = 'ProductContentError'
  readonly code = 'product_content'
  constructor(
    readonly product: string,
    problem: string,
  ) {
    super(`product "${product}": ${problem}`)
  }
}

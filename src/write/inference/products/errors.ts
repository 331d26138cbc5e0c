/** A product whose content cannot be used for a call: it is left out of the call and not charged. */
export class ProductUnavailableError extends Error {
  override name = 'ProductUnavailableError'
}

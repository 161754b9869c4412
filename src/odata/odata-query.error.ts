/**
 * A query option (`$filter`, `$top`, `$skiptoken`, …) that cannot be parsed or names something the
 * collection does not have. The exception filter answers it as 400 `invalidRequest` with the message.
 */
export class ODataQueryError extends Error {
  constructor(
    /** The option at fault, as the client spelled it without `$`, e.g. `filter`. */
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'ODataQueryError';
  }
}

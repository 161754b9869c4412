import { InvalidRequestError } from '../common/errors/domain-error.js';

/**
 * A query option (`$filter`, `$top`, `$skiptoken`, …) that cannot be parsed or names something the
 * collection does not have: 400 `invalidRequest` with the message.
 */
export class ODataQueryError extends InvalidRequestError {
  constructor(
    /** The option at fault, without `$`, e.g. `filter`. */
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An error the user can fix: bad input, a bad setting, an unreachable database.
 * The CLI prints `message` alone on one line (no stack) and exits with code 2.
 * The message names the file or setting and says what is wrong.
 */
export class InputError extends Error {
  override name = "InputError";
}

/** Exit 0: everything succeeded; 1: an operation failed or the API refused; 2: usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

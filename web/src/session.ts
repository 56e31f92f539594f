/** The API token lives in sessionStorage: gone when the tab closes, never in a cookie. */
const KEY = 'decnet.api-token';

export const session = {
  token: (): string | null => sessionStorage.getItem(KEY),
  save: (token: string) => sessionStorage.setItem(KEY, token),
  clear: () => sessionStorage.removeItem(KEY),
};

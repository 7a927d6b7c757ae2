/** The exit codes of `kindwatch`, as `kindwatch --help` documents them. */

/** Done: everything asked for was done (a `watch` ended by its output closing counts too). */
export const exitOk = 0;
/** Failed: the cluster, the credentials, the kubeconfig or the request (unknown kind, forbidden, not found). */
export const exitError = 1;
/** The command line was wrong: unknown command or flag, a missing argument, an output format the command lacks. */
export const exitUsage = 2;
/** Ended by SIGINT (Ctrl-C), after stopping cleanly and saving the checkpoint: 128 + 2, as shells report it. */
export const exitInterrupted = 130;
/** Ended by SIGTERM, after stopping cleanly and saving the checkpoint: 128 + 15. */
export const exitTerminated = 143;

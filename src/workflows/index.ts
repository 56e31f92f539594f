export { deployDeckyWorkflow } from './deploy-decky';
export { healDeckyWorkflow } from './heal-decky';
export { moveDeckyWorkflow } from './move-decky';
export { mutateDeckyWorkflow } from './mutate-decky';
export { scheduledMutationWorkflow } from './scheduled-mutation';
export { teardownDeckyWorkflow } from './teardown-decky';

export { deployDeckyWorkflow } from './deploy-decky';
export { teardownDeckyWorkflow } from './teardown-decky';

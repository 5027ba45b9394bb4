/** The workflow bundle's entry point: every export here is a workflow type, so export only those. */
export { leadNurtureWorkflow } from './leadNurture';
export { dealLifecycleWorkflow } from './dealLifecycle';
export { customerUnificationWorkflow, scheduledCustomerUnificationWorkflow } from './customerUnification';
export { orderToCashWorkflow } from './orderToCash';
export { sequenceEnrollmentWorkflow } from './sequenceEnrollment';
export { leadImportEnrollmentWorkflow } from './leadImportEnrollment';

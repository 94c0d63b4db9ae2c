//! axum extractors over a [`Guard`] in the router's state (any state the guard can be taken from,
//! through `FromRef`), and a tower layer for stacks that are not axum.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

use crate::error::{Rejection, TokenProblem};
use crate::guard::Guard;
use crate::token::AccessToken;

/// A request with a valid access token that stands for a user (as Tessera's own extractor: an
/// OAuth client's own token is refused with 401). Taken from the request's extensions when a
/// [`GuardLayer`] already verified it, else verified here (a second extractor in the same handler
/// finds the token in the guard's cache of verified tokens).
#[derive(Clone, Debug)]
pub struct Authenticated(pub Arc<AccessToken>);

impl<S> FromRequestParts<S> for Authenticated
where
    Guard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        if token.user_id.is_none() {
            return Err(Rejection::NoUser);
        }
        Ok(Authenticated(token))
    }
}

/// A request with a valid access token, a user's or an OAuth client's own (client credentials),
/// for routes that serve both (typically behind [`RequireScope`]).
#[derive(Clone, Debug)]
pub struct Bearer(pub Arc<AccessToken>);

impl<S> FromRequestParts<S> for Bearer
where
    Guard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(Bearer(token)) = parts.extensions.get::<Bearer>() {
            return Ok(Bearer(Arc::clone(token)));
        }
        let guard = Guard::from_ref(state);
        Ok(Bearer(guard.authenticate(&parts.headers).await?))
    }
}

/// A request with a valid access token (a user's or a client's own) whose claims read into `C`
/// (custom claims included).
/// Claims that do not fit `C` are an invalid token (401).
#[derive(Clone, Debug)]
pub struct Claims<C>(pub C, pub Arc<AccessToken>);

impl<S, C> FromRequestParts<S> for Claims<C>
where
    Guard: FromRef<S>,
    S: Send + Sync,
    C: DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        let claims = token
            .claims()
            .map_err(|_| Rejection::InvalidToken(TokenProblem::Invalid))?;
        Ok(Claims(claims, token))
    }
}

/// Roles a guarded route accepts: a request passes with any one of them.
pub trait RoleRequirement {
    /// Accepted role names.
    const ANY_OF: &'static [&'static str];
}

/// Scopes a guarded route needs: a request passes with every one of them.
pub trait ScopeRequirement {
    /// Required scopes.
    const ALL_OF: &'static [&'static str];
}

/// The `admin` role.
#[derive(Debug)]
pub struct Admin;

impl RoleRequirement for Admin {
    const ANY_OF: &'static [&'static str] = &["admin"];
}

/// A request whose valid token holds one of `R`'s roles; 403 (Tessera's body) otherwise.
///
/// ```
/// use tessera_guard::{RequireRole, RoleRequirement};
///
/// /// Staff or admins.
/// pub struct Staff;
/// impl RoleRequirement for Staff {
///     const ANY_OF: &'static [&'static str] = &["staff", "admin"];
/// }
///
/// async fn report(RequireRole(token, ..): RequireRole<Staff>) -> String {
///     format!("hello user {:?}", token.user_id)
/// }
/// # let _ = report;
/// ```
#[derive(Debug)]
pub struct RequireRole<R>(pub Arc<AccessToken>, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Guard: FromRef<S>,
    S: Send + Sync,
    R: RoleRequirement,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(token) = Authenticated::from_request_parts(parts, state).await?;
        if !token.has_any_role(R::ANY_OF) {
            return Err(Rejection::Forbidden);
        }
        Ok(RequireRole(token, PhantomData))
    }
}

/// A request whose valid token (a user's or a client's own) was granted every one of `R`'s
/// scopes; 403 otherwise.
#[derive(Debug)]
pub struct RequireScope<R>(pub Arc<AccessToken>, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for RequireScope<R>
where
    Guard: FromRef<S>,
    S: Send + Sync,
    R: ScopeRequirement,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        if !R::ALL_OF.iter().all(|scope| token.has_scope(scope)) {
            return Err(Rejection::Forbidden);
        }
        Ok(RequireScope(token, PhantomData))
    }
}

/// A tower layer that lets through only requests with a valid access token (a user's or a
/// client's own), answering the others as Tessera does; the verified token is in the request's
/// extensions as [`Bearer`], where the extractors find it.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    /// A layer verifying with `guard`.
    pub fn new(guard: Guard) -> GuardLayer {
        GuardLayer { guard }
    }
}

impl<I> tower::Layer<I> for GuardLayer {
    type Service = GuardService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        GuardService {
            guard: self.guard.clone(),
            inner,
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<I> {
    guard: Guard,
    inner: I,
}

impl<I, B> tower::Service<Request<B>> for GuardService<I>
where
    I: tower::Service<Request<B>, Response = Response<axum::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    I::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let guard = self.guard.clone();
        // The clone that was made ready is the one called (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match guard.authenticate(request.headers()).await {
                Ok(token) => {
                    request.extensions_mut().insert(Bearer(token));
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
